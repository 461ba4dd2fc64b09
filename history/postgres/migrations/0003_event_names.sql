-- 0003: an event's name may hold any bytes: the engine journals a signal
-- from another run, and an update, under the name, a NUL and a key, and a
-- TEXT column refuses NUL. Names are stored as the bytes of the string.

ALTER TABLE chorus_events ALTER COLUMN name DROP DEFAULT;
ALTER TABLE chorus_events ALTER COLUMN name TYPE BYTEA USING convert_to(name, 'UTF8');
ALTER TABLE chorus_events ALTER COLUMN name SET DEFAULT ''::bytea;
