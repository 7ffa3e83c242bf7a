-- A schedule's own retry policy for the runs it starts (else the script's applies).

ALTER TABLE schedules ADD COLUMN retry jsonb;
