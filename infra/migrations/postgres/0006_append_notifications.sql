-- Every commit that moves the head tells listeners the new head, so other
-- instances' followers wake at once instead of polling the log. NOTIFY is
-- delivered on commit and only then; the head row lock already serialises
-- appends, so the notification costs no extra concurrency.
CREATE FUNCTION flowforge_notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flowforge_appended', NEW.position::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER event_store_head_notify
    AFTER UPDATE ON event_store_head
    FOR EACH ROW EXECUTE FUNCTION flowforge_notify_appended();
