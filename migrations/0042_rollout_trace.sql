-- The W3C traceparent of the API call that created a rollout (null when tracing was off): the rollout's rounds,
-- run later by whichever process claims them, publish its schedules in that trace, so one trace runs from the call
-- through every round's publish and the devices' acknowledgements. Nullable and ignored by older releases.
ALTER TABLE rollouts ADD COLUMN traceparent text;
