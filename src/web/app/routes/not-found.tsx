import { data } from 'react-router';

export function loader() {
  throw data('No page here. Try the grid overview or the API reference at /docs.', { status: 404, statusText: 'Not Found' });
}

export default function NotFound() {
  return null;
}
