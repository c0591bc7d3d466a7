-- The trigram index over open incidents' titles (20261205000020) served
-- the first look-alike search, which matched misspelt titles among open
-- incidents. That search reads the stored documents now, and misspelt
-- words are looked up in the triage vocabulary's GiST index; no statement
-- reads this index, and every incident reported, and every one that opens
-- or closes, wrote its title's trigrams to it.
DROP INDEX IF EXISTS tickets_open_incident_title_trgm;
