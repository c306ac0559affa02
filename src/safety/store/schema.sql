-- The data model (SDTM-aligned). One DuckDB file holds several studies; every clinical row
-- carries its study_id and the ingest batch_id it came from. Column comments give the SDTM variable.
-- Bump SCHEMA_VERSION in store/schema.py whenever this file changes.
-- Date-times: where SDTM --DTC carries a time, a TIMESTAMP column (*_at) keeps it beside the
-- DATE column (NULL when no time was collected). Pages filter by the DATE columns (the cut-off
-- is a date); the rules compare the *_at columns when both sides have a time.

CREATE TABLE schema_version (
    version     INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

-- One row per delivered file (or generator run). Rows in = loaded + quarantined.
CREATE SEQUENCE batch_id_seq START 1;
CREATE TABLE ingest_batch (
    batch_id          INTEGER PRIMARY KEY DEFAULT nextval('batch_id_seq'),
    study_id          VARCHAR NOT NULL,
    file_name         VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,
    domain            VARCHAR NOT NULL,      -- DM, AE, EX, LB, VS, DS, SUPPAE, CONFIG, DEMO
    rows_in           INTEGER NOT NULL,
    rows_loaded       INTEGER NOT NULL,
    rows_quarantined  INTEGER NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('loaded', 'duplicate', 'rejected')),
    reason            VARCHAR,
    loaded_by         VARCHAR NOT NULL,
    loaded_at         TIMESTAMP NOT NULL,
    -- Data cuts: a later delivery of the same study and domain supersedes this one. Superseded
    -- rows stay in their tables (reachable by batch_id); the current_* views below hide them.
    superseded_by     INTEGER,               -- batch_id of the delivery that replaced this one
    -- What the batch is (README "Deliveries"): 'cumulative' (a full export: its rows are the new
    -- cut), 'incremental' (adds and updates by key: the cut is the previous one plus its rows),
    -- 'reevaluation' (quarantined rows evaluated again after their DM arrived), 'retraction'
    -- (restores the cut before the retracted batch). Every batch of a domain holds the whole cut.
    delivery          VARCHAR NOT NULL DEFAULT 'cumulative'
                        CHECK (delivery IN ('cumulative', 'incremental', 'reevaluation', 'retraction')),
    rows_carried      INTEGER NOT NULL DEFAULT 0,  -- rows copied from the cut it builds on
    based_on          INTEGER,               -- the batch whose cut was carried forward or restored
    retracts          INTEGER,               -- retraction: the batch it took back
    hold_id           INTEGER,               -- loaded by confirming this held delivery
    CHECK (rows_in = rows_loaded + rows_quarantined)
);

CREATE TABLE study (
    study_id          VARCHAR PRIMARY KEY,   -- STUDYID
    title             VARCHAR NOT NULL,
    registry_id       VARCHAR,
    phase             VARCHAR,
    design            VARCHAR NOT NULL,      -- 3+3 | boin | mtpi2 | crm | none (safety monitoring only)
    config_toml       VARCHAR NOT NULL,      -- the configuration as loaded, for audit and reports
    config_sha256     VARCHAR NOT NULL,
    data_cutoff       DATE,                  -- last day the delivered data cover
    batch_id          INTEGER NOT NULL
);

-- The parameters of the study's clinical rules, from its configuration: the DLT rule
-- (safety.clinical.dlt.rule_parameters, [dlt]) and the TEAE follow-up ([study] follow_up_weeks),
-- read by the rules' table macros (dlt_event, subject_dlt_state, ae_teae).
CREATE TABLE rule_parameters (
    study_id          VARCHAR PRIMARY KEY,
    follow_up_days    INTEGER,               -- AEs this long after the first dose are TEAEs (NULL: no limit)
    window_days       INTEGER,               -- the DLT window: days 1 .. window_days from the first dose
                                             -- (NULL: no DLT definition, safety monitoring only)
    min_grade         INTEGER,
    require_related   BOOLEAN,
    always_terms      VARCHAR[] NOT NULL,    -- lower-case preferred terms
    excluded_terms    VARCHAR[] NOT NULL,
    lab_terms         VARCHAR[] NOT NULL,    -- lower-case CTCAE terms of the lab criteria ...
    lab_min_grades    INTEGER[] NOT NULL,    -- ... and their minimum grades (parallel lists)
    lab_test_codes    VARCHAR[] NOT NULL,    -- LBTESTCDs those CTCAE terms grade
    min_exposure      DOUBLE,                -- [dlt] min_exposure: fraction of the planned dose (NULL: any)
    planned_administrations INTEGER NOT NULL DEFAULT 1,  -- [dlt] planned_administrations in the window
    inr_anticoagulated BOOLEAN NOT NULL DEFAULT false,   -- [labs]: INR graded against the baseline for all
    anticoagulation_qnam VARCHAR             -- [labs]: SUPPDM QNAM flagging subjects on anticoagulation
);

CREATE TABLE cohort (
    study_id          VARCHAR NOT NULL,
    cohort_id         VARCHAR NOT NULL,      -- ARMCD
    label             VARCHAR NOT NULL,      -- ARM
    dose_level        INTEGER,               -- 1-based escalation order; NULL for control
    dose              DOUBLE,
    dose_unit         VARCHAR,
    is_control        BOOLEAN NOT NULL,
    planned_subjects  INTEGER,
    dose_illustrative BOOLEAN NOT NULL DEFAULT false,
    batch_id          INTEGER NOT NULL,
    PRIMARY KEY (study_id, cohort_id)
);

CREATE TABLE subject (
    study_id          VARCHAR NOT NULL,      -- STUDYID
    usubjid           VARCHAR NOT NULL,      -- USUBJID
    subjid            VARCHAR,               -- SUBJID
    site_id           VARCHAR,               -- SITEID
    cohort_id         VARCHAR,               -- ARMCD mapped to a cohort; NULL for screen failures
    sex               VARCHAR,               -- SEX
    age               INTEGER,               -- AGE (years)
    race              VARCHAR,               -- RACE
    enrolled_date     DATE,                  -- RFICDTC (informed consent)
    first_dose_date   DATE,                  -- RFXSTDTC
    first_dose_at     TIMESTAMP,             -- RFXSTDTC with its time (NULL: no time collected)
    last_dose_date    DATE,                  -- RFXENDTC
    end_of_study_date DATE,                  -- RFPENDTC
    status            VARCHAR NOT NULL CHECK (status IN
                        ('screening', 'screen failure', 'on study', 'completed', 'withdrawn', 'died')),
    status_reason     VARCHAR,               -- DS.DSDECOD when withdrawn
    death_date        DATE,                  -- DTHDTC
    batch_id          INTEGER NOT NULL,
    arm_code          VARCHAR,               -- ARMCD (planned arm) as given
    actual_arm_code   VARCHAR,               -- ACTARMCD (actual arm) as given
    death_flag        BOOLEAN,               -- DTHFL = Y
    -- batch_id is in the key because superseded DM deliveries keep their rows (data cuts);
    -- within the current_subject view (study_id, usubjid) is unique.
    PRIMARY KEY (study_id, usubjid, batch_id)
);

CREATE TABLE exposure (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,      -- EXSEQ
    treatment         VARCHAR NOT NULL,      -- EXTRT
    dose              DOUBLE,                -- EXDOSE
    dose_unit         VARCHAR,               -- EXDOSU
    route             VARCHAR,               -- EXROUTE
    start_date        DATE NOT NULL,         -- EXSTDTC
    end_date          DATE,                  -- EXENDTC
    batch_id          INTEGER NOT NULL,
    start_at          TIMESTAMP,             -- EXSTDTC with its time (NULL: no time collected)
    end_at            TIMESTAMP,             -- EXENDTC with its time
    frequency         VARCHAR                -- EXDOSFRQ (ONCE, QD, BID, ...)
);

CREATE TABLE adverse_event (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,      -- AESEQ
    verbatim          VARCHAR,               -- AETERM
    pt                VARCHAR NOT NULL,      -- AEDECOD (MedDRA preferred term)
    soc               VARCHAR NOT NULL,      -- AEBODSYS (MedDRA system organ class)
    start_dtc         VARCHAR,               -- AESTDTC as given (may be partial)
    start_date        DATE,                  -- AESTDTC, imputed when partial
    start_imputed     BOOLEAN NOT NULL DEFAULT false,
    end_dtc           VARCHAR,               -- AEENDTC as given
    end_date          DATE,                  -- AEENDTC (NULL = ongoing or unknown)
    end_imputed       BOOLEAN,               -- AEENDTC partial: end_date is the last possible day
    grade             INTEGER CHECK (grade BETWEEN 1 AND 5),  -- AETOXGR (CTCAE)
    grade_derived     BOOLEAN NOT NULL DEFAULT false,         -- not AETOXGR: 5 for a fatal outcome, else from AESEV
    severity          VARCHAR,               -- AESEV
    serious           BOOLEAN NOT NULL,      -- AESER = Y or any seriousness criterion = Y
    serious_raw       VARCHAR,               -- AESER as given
    related           BOOLEAN NOT NULL,      -- causality in the study's "related" list
    causality         VARCHAR,               -- AEREL as given
    outcome           VARCHAR,               -- AEOUT
    action_taken      VARCHAR,               -- AEACN
    batch_id          INTEGER NOT NULL,
    start_at          TIMESTAMP,             -- AESTDTC with its time (NULL: no time collected)
    end_at            TIMESTAMP,             -- AEENDTC with its time
    serious_criteria  VARCHAR                -- the criteria given as Y, e.g. 'AESDTH, AESLIFE' (of
                                             -- AESDTH AESHOSP AESLIFE AESDISAB AESCONG AESMIE);
                                             -- '' none Y; NULL none delivered
);

CREATE TABLE lab (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,      -- LBSEQ
    test_code         VARCHAR NOT NULL,      -- LBTESTCD
    test_name         VARCHAR,               -- LBTEST
    category          VARCHAR,               -- LBCAT
    value             DOUBLE,                -- LBSTRESN
    value_text        VARCHAR,               -- LBSTRESC
    unit              VARCHAR,               -- LBSTRESU
    lln               DOUBLE,                -- LBSTNRLO
    uln               DOUBLE,                -- LBSTNRHI
    range_flag        VARCHAR,               -- LBNRIND
    collected_dtc     VARCHAR,               -- LBDTC as given
    collected_date    DATE,                  -- LBDTC
    visit             VARCHAR,               -- VISIT
    visit_num         DOUBLE,                -- VISITNUM
    study_day         INTEGER,               -- LBDY
    baseline_flag     BOOLEAN NOT NULL DEFAULT false,  -- LBBLFL = Y
    batch_id          INTEGER NOT NULL,
    collected_at      TIMESTAMP              -- LBDTC with its time (NULL: no time collected)
);

CREATE TABLE vital_sign (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,      -- VSSEQ
    test_code         VARCHAR NOT NULL,      -- VSTESTCD
    test_name         VARCHAR,               -- VSTEST
    value             DOUBLE,                -- VSSTRESN
    unit              VARCHAR,               -- VSSTRESU
    position          VARCHAR,               -- VSPOS
    collected_dtc     VARCHAR,               -- VSDTC as given
    collected_date    DATE,                  -- VSDTC
    visit             VARCHAR,               -- VISIT
    visit_num         DOUBLE,                -- VISITNUM
    study_day         INTEGER,               -- VSDY
    batch_id          INTEGER NOT NULL
);

-- Rows that failed validation, kept with their raw record and the reason.
CREATE SEQUENCE quarantine_id_seq START 1;
CREATE TABLE quarantine (
    quarantine_id     INTEGER PRIMARY KEY DEFAULT nextval('quarantine_id_seq'),
    batch_id          INTEGER NOT NULL,
    study_id          VARCHAR NOT NULL,
    domain            VARCHAR NOT NULL,
    row_number        INTEGER NOT NULL,      -- 1-based data row in the delivered file
    raw_record        VARCHAR NOT NULL,      -- the row as JSON, values as delivered
    reason            VARCHAR NOT NULL,
    rule              VARCHAR,               -- the first rule the row failed, e.g. not_in_dm, wrong_type
    rules             VARCHAR[],             -- every rule the row failed
    -- History: a row quarantined as not_in_dm is evaluated again when its subject's DM arrives;
    -- reevaluated_in is that batch (where it loaded, or was quarantined again with previous_id
    -- pointing back here). Open quarantine: reevaluated_in IS NULL.
    reevaluated_in    INTEGER,
    previous_id       INTEGER
);

-- Deliveries held for a data manager (README "Holds"): a cumulative delivery that would remove
-- more than the protocol tolerates, or a file with a large share quarantined. The file's content
-- is kept, so confirming loads it without re-sending; nothing of it is in the clinical tables.
CREATE SEQUENCE hold_id_seq START 1;
CREATE TABLE held_delivery (
    hold_id           INTEGER PRIMARY KEY DEFAULT nextval('hold_id_seq'),
    study_id          VARCHAR NOT NULL,
    file_name         VARCHAR NOT NULL,
    sha256            VARCHAR NOT NULL,
    domain            VARCHAR NOT NULL,
    delivery          VARCHAR NOT NULL,      -- cumulative | incremental | reevaluation
    rows_in           INTEGER NOT NULL,
    rows_loaded       INTEGER NOT NULL,      -- rows that would load ...
    rows_quarantined  INTEGER NOT NULL,      -- ... and be quarantined
    reason            VARCHAR NOT NULL,      -- why it is held, one line
    comparison        VARCHAR NOT NULL,      -- JSON: what it would remove, add, quarantine
    content           BLOB NOT NULL,         -- the file as delivered
    held_by           VARCHAR NOT NULL,
    held_at           TIMESTAMP NOT NULL,
    status            VARCHAR NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'confirmed', 'rejected', 'superseded')),
    decided_by        VARCHAR,
    decided_at        TIMESTAMP,
    decision_reason   VARCHAR,
    batch_id          INTEGER,               -- confirmed: the batch it became; superseded: the later one
    CHECK (rows_in = rows_loaded + rows_quarantined),
    CHECK (status = 'pending' OR length(trim(coalesce(decision_reason, ''))) > 0)
);

-- DS (disposition): drives subject.status; and SUPP-- qualifiers (e.g. SUPPAE AETRTEM).
CREATE TABLE disposition (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,      -- DSSEQ
    term              VARCHAR,               -- DSTERM
    decod             VARCHAR NOT NULL,      -- DSDECOD
    category          VARCHAR,               -- DSCAT
    start_dtc         VARCHAR,               -- DSSTDTC as given
    start_date        DATE,                  -- DSSTDTC (NULL when partial)
    visit             VARCHAR,               -- VISIT
    batch_id          INTEGER NOT NULL,
    start_at          TIMESTAMP              -- DSSTDTC with its time (NULL: no time collected)
);

CREATE TABLE supp_qualifier (
    study_id          VARCHAR NOT NULL,
    rdomain           VARCHAR NOT NULL,      -- RDOMAIN (AE for SUPPAE)
    usubjid           VARCHAR NOT NULL,
    idvar             VARCHAR,               -- IDVAR, e.g. AESEQ
    idvarval          VARCHAR,               -- IDVARVAL, e.g. the AESEQ value
    qnam              VARCHAR NOT NULL,      -- QNAM, e.g. AETRTEM
    qlabel            VARCHAR,
    qval              VARCHAR,
    qorig             VARCHAR,
    qeval             VARCHAR,
    batch_id          INTEGER NOT NULL
);

-- The sponsor's own derivations delivered in an ADaM dataset (ADSL SAFFL, ADAE TRTEMFL and
-- ATOXGR, ADLB ATOXGR ...), kept beside ours as delivered; a disagreement with our rule is a
-- data-quality finding (queries.sponsor.sponsor_disagreements), never a correction.
CREATE TABLE sponsor_value (
    study_id          VARCHAR NOT NULL,
    domain            VARCHAR NOT NULL,      -- the SDTM domain the dataset loaded as (DM, AE, LB)
    dataset           VARCHAR NOT NULL,      -- the ADaM dataset (ADSL, ADAE, ADLB)
    usubjid           VARCHAR NOT NULL,
    seq               INTEGER,               -- AESEQ / LBSEQ of the record; NULL for ADSL
    variable          VARCHAR NOT NULL,      -- the ADaM variable, e.g. TRTEMFL
    value             VARCHAR,               -- as delivered (text)
    batch_id          INTEGER NOT NULL
);

-- DLT adjudication overrides the derived candidate: confirmed, rejected, or added by hand.
CREATE SEQUENCE adjudication_id_seq START 1;
CREATE TABLE dlt_adjudication (
    adjudication_id   INTEGER PRIMARY KEY DEFAULT nextval('adjudication_id_seq'),
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    source            VARCHAR NOT NULL CHECK (source IN ('adverse_event', 'lab', 'manual')),
    source_seq        INTEGER,               -- AESEQ / LBSEQ of the record; NULL for manual
    decision          VARCHAR NOT NULL CHECK (decision IN ('confirmed', 'rejected', 'added')),
    reason            VARCHAR NOT NULL CHECK (length(trim(reason)) > 0),
    onset_date        DATE,                  -- for manual additions
    description       VARCHAR,               -- for manual additions
    decided_by        VARCHAR NOT NULL,      -- the user id
    decided_at        TIMESTAMP NOT NULL,
    signature_id      INTEGER NOT NULL       -- the adjudicator's electronic signature
);

-- The audit trail: append-only (the library has no UPDATE or DELETE of it), each entry chained
-- to the one before: entry_sha256 = SHA-256 of the JSON array [audit_id, logged_at (ISO 8601,
-- microseconds, UTC), actor, action, study_id, usubjid, detail, previous_sha256], the first
-- entry's previous_sha256 being 64 zeros. audit_head holds the last entry appended, so removing
-- entries from the end shows too (safety.store.audit.verify_audit_trail).
CREATE SEQUENCE audit_id_seq START 1;
CREATE TABLE audit_log (
    audit_id          INTEGER PRIMARY KEY,
    logged_at         TIMESTAMP NOT NULL,
    actor             VARCHAR NOT NULL,      -- the user id
    action            VARCHAR NOT NULL,      -- e.g. dlt.confirm, dlt.reject, ingest.load, demo.build
    study_id          VARCHAR,
    usubjid           VARCHAR,
    detail            VARCHAR NOT NULL,      -- JSON
    previous_sha256   VARCHAR NOT NULL,
    entry_sha256      VARCHAR NOT NULL
);
CREATE TABLE audit_head (
    head              BOOLEAN PRIMARY KEY DEFAULT true CHECK (head),  -- one row
    audit_id          INTEGER NOT NULL,      -- 0 before the first entry
    entry_sha256      VARCHAR NOT NULL
);
INSERT INTO audit_head VALUES (true, 0, repeat('0', 64));

-- Electronic signatures (21 CFR 11.50, 11.70): who signed (user id and printed name), when,
-- what it means, how the signer proved she was present, and the record it signs with that
-- record's sha256 at signing (so a record changed afterwards no longer matches).
CREATE SEQUENCE signature_id_seq START 1;
CREATE TABLE signature (
    signature_id      INTEGER PRIMARY KEY,
    study_id          VARCHAR,
    signed_by         VARCHAR NOT NULL,      -- the user id
    signer_name       VARCHAR NOT NULL,      -- printed name
    signed_at         TIMESTAMP NOT NULL,    -- UTC
    meaning           VARCHAR NOT NULL,      -- e.g. "I confirm this event as a DLT"
    method            VARCHAR NOT NULL CHECK (method IN ('reauthentication', 'signature password')),
    evidence          VARCHAR NOT NULL,      -- JSON: issuer and auth_time of the re-authentication
    record_table      VARCHAR NOT NULL CHECK (record_table IN
                        ('dlt_adjudication', 'alert', 'snapshot', 'ingest_batch')),
    record_id         INTEGER NOT NULL,
    record_sha256     VARCHAR NOT NULL,      -- the signed record's content (safety.store.audit)
    audit_id          INTEGER NOT NULL       -- the audit entry of the act
);

-- Review status and notes per patient (the patient profile). Append-only: each review is a new
-- row, the latest per subject is the current one, the earlier ones are its history.
CREATE SEQUENCE review_id_seq START 1;
CREATE TABLE subject_review (
    review_id         INTEGER PRIMARY KEY DEFAULT nextval('review_id_seq'),
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('not reviewed', 'reviewed', 'needs follow-up')),
    note              VARCHAR,
    reviewed_by       VARCHAR NOT NULL,
    reviewed_at       TIMESTAMP NOT NULL
);

-- A frozen data cut for the DSMB.
CREATE SEQUENCE snapshot_id_seq START 1;
CREATE TABLE snapshot (
    snapshot_id       INTEGER PRIMARY KEY DEFAULT nextval('snapshot_id_seq'),
    study_id          VARCHAR NOT NULL,
    cutoff            DATE NOT NULL,
    kind              VARCHAR NOT NULL CHECK (kind IN ('open', 'closed')),
    created_at        TIMESTAMP NOT NULL,
    created_by        VARCHAR NOT NULL,
    content_sha256    VARCHAR NOT NULL,
    config_sha256     VARCHAR NOT NULL,
    software_version  VARCHAR NOT NULL,
    manifest          VARCHAR NOT NULL       -- JSON
);

-- Subjects the current DM no longer has while current cuts of other domains still hold records
-- of theirs (a DM cut that dropped them, confirmed or within tolerance): those records are not
-- current. Recomputed whenever the DM cut changes (queries.ingest.refresh_removed_subjects), so
-- a DM that brings a subject back, or the retraction of the DM that dropped her, restores them.
CREATE TABLE removed_subject (
    study_id          VARCHAR NOT NULL,
    usubjid           VARCHAR NOT NULL,
    dm_batch          INTEGER NOT NULL,      -- the DM cut that does not have her
    PRIMARY KEY (study_id, usubjid)
);

-- Current data: every read of clinical rows goes through these views. A batch is current while it
-- is loaded and no later batch of its study and domain superseded it (each batch holds the whole
-- cut of its domain; rows written by the demo generator belong to batches that only a delivery of
-- their domain supersedes). Records of subjects removed from DM (removed_subject) are not current.
CREATE VIEW superseded_batch AS
    SELECT batch_id FROM ingest_batch WHERE superseded_by IS NOT NULL OR status <> 'loaded';
CREATE VIEW current_subject AS
    SELECT * FROM subject WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch);
CREATE VIEW current_exposure AS
    SELECT * FROM exposure t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_adverse_event AS
    SELECT * FROM adverse_event t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_lab AS
    SELECT * FROM lab t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_vital_sign AS
    SELECT * FROM vital_sign t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_disposition AS
    SELECT * FROM disposition t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_supp_qualifier AS
    SELECT * FROM supp_qualifier t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);
CREATE VIEW current_sponsor_value AS
    SELECT * FROM sponsor_value t WHERE batch_id NOT IN (SELECT batch_id FROM superseded_batch)
    AND NOT EXISTS (SELECT 1 FROM removed_subject r
                    WHERE r.study_id = t.study_id AND r.usubjid = t.usubjid);

-- Alerts (safety.alerts): raised once per new batch by refresh_alerts, never on a page view.
-- alert_key identifies what raised it (an SAE, a rule's new state, ...) so it is raised once.
CREATE SEQUENCE alert_id_seq START 1;
CREATE TABLE alert (
    alert_id          INTEGER PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    study_id          VARCHAR NOT NULL,
    alert_key         VARCHAR NOT NULL,      -- e.g. sae|USUBJID|PT|AESTDTC; unique per study
    kind              VARCHAR NOT NULL,      -- sae, dlt, grade3, hys_law, rule, decision, accrual_pause
    severity          VARCHAR NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'info')),
    raised_at         TIMESTAMP NOT NULL,    -- when the alert was computed (UTC)
    event_date        DATE,                  -- the clinical date of what it is about
    batch_id          INTEGER NOT NULL,      -- the latest batch of the study when it was raised
    cohort_id         VARCHAR,
    usubjid           VARCHAR,
    title             VARCHAR NOT NULL,
    detail            VARCHAR,
    link              VARCHAR,               -- relative dashboard link, e.g. patient?study=..&subject=..
    acknowledged_by   VARCHAR,
    acknowledged_at   TIMESTAMP,
    ack_comment       VARCHAR,
    ack_signature_id  INTEGER                -- NULL only for the baseline (acknowledged by system)
);

-- What the last alert evaluation of each study saw: the batch it covered and the rule states
-- and decisions (JSON) that the next evaluation compares with.
CREATE TABLE alert_state (
    study_id          VARCHAR PRIMARY KEY,
    evaluated_batch   INTEGER NOT NULL,
    evaluated_at      TIMESTAMP NOT NULL,
    rule_states       VARCHAR NOT NULL,      -- JSON {"COHORT|rule name": "ok|warning|triggered"}
    decisions         VARCHAR NOT NULL       -- JSON {"COHORT" or "study": "escalate|stay|..."}
);

-- Notifications (safety.notify): the outbox. One row per alert and recipient (an e-mail address
-- or a webhook id), its message composed for what the subscriber's role may see, written in the
-- step that follows the alerts (notification_state remembers the last alert queued); a sender
-- claims due rows, sends outside any transaction and records every attempt.
CREATE SEQUENCE notification_id_seq START 1;
CREATE TABLE notification (
    notification_id   INTEGER PRIMARY KEY DEFAULT nextval('notification_id_seq'),
    alert_id          INTEGER NOT NULL,
    study_id          VARCHAR NOT NULL,
    channel           VARCHAR NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient         VARCHAR NOT NULL,      -- e-mail address or [[webhook]] id
    subscriber        VARCHAR NOT NULL,      -- the subscription's user id
    visibility        VARCHAR NOT NULL CHECK (visibility IN ('closed', 'patient', 'open')),
    subject           VARCHAR NOT NULL,
    body              VARCHAR NOT NULL,      -- the e-mail's text, or the webhook's JSON
    created_at        TIMESTAMP NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('pending', 'sending', 'sent')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMP NOT NULL,
    claimed_at        TIMESTAMP,             -- a sender took it (status sending)
    sent_at           TIMESTAMP,
    last_error        VARCHAR,
    UNIQUE (alert_id, channel, recipient)    -- one message per alert and recipient
);

-- Every attempt to send a notification, with its outcome.
CREATE SEQUENCE notification_attempt_id_seq START 1;
CREATE TABLE notification_attempt (
    attempt_id        INTEGER PRIMARY KEY DEFAULT nextval('notification_attempt_id_seq'),
    notification_id   INTEGER NOT NULL,
    attempt           INTEGER NOT NULL,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL,
    outcome           VARCHAR NOT NULL CHECK (outcome IN ('sent', 'failed')),
    detail            VARCHAR                -- the server's answer or the error
);

-- The last alert whose notifications are queued (one row).
CREATE TABLE notification_state (
    one               INTEGER PRIMARY KEY CHECK (one = 1),
    queued_alert      INTEGER NOT NULL
);
