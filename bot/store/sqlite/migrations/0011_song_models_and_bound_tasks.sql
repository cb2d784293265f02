-- The model that made each song (its extends run the same one), and whether a task must stay with its provider
-- (an extend, reroll or upload of a song made there). A task that is not bound may be sent to another provider
-- while it has certainly not reached its own. Tasks from before several providers stay where they are.
ALTER TABLE songs ADD COLUMN model TEXT;
ALTER TABLE tasks ADD COLUMN bound INTEGER NOT NULL DEFAULT 1;
