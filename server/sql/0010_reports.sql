-- Indexes for the monthly report (server/services/report_service.c).
--
-- The report counts an account's activities of one month by kind, and its
-- contacts of the month by stakeholder. Both read a range of the account's
-- index entries by time, but the indexes of 0006 carry neither the kind nor
-- the stakeholder, so every entry in the range cost a visit to the table: the
-- activities of one account are spread over the table (they are recorded
-- over time among everyone else's), so a busy month was one page read per
-- activity. With the column carried in the index the counts are index-only
-- scans.
--
-- The two indexes are rebuilt under their own names with the same keys in the
-- same order plus the column, rather than added beside them: every query that
-- used them (the timeline, ListActivities, coverage, last contact) plans as
-- before, and each insert still maintains one index per purpose.
DROP INDEX activities_account_time;
CREATE INDEX activities_account_time ON activities (account_id, occur_time DESC, id DESC)
    INCLUDE (kind);

DROP INDEX activity_stakeholders_account;
CREATE INDEX activity_stakeholders_account ON activity_stakeholders (account_id, occur_time)
    INCLUDE (stakeholder_id);
