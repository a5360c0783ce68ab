import { Form, useNavigate } from 'react-router';

/** Switch BA: a GET form to /ba (redirects to /ba/{code}) that navigates at once when JavaScript runs. */
export function BaPicker({ bas, current, date }: { bas: Array<{ code: string; name: string }>; current: string; date: string | null }) {
  const navigate = useNavigate();
  return (
    <Form method="get" action="/ba" className="inline-form" onChange={(e) => {
      const code = (e.currentTarget.elements.namedItem('code') as HTMLSelectElement).value;
      void navigate(`/ba/${code}${date ? `?date=${date}` : ''}`);
    }}>
      <label>Balancing authority
        <select name="code" defaultValue={current} key={current}>
          {bas.map((b) => <option key={b.code} value={b.code}>{b.code} — {b.name}</option>)}
        </select>
      </label>
      {date ? <input type="hidden" name="date" value={date} /> : null}
      <button type="submit">Go</button>
    </Form>
  );
}
