//! What the audit log records: administrative actions on partner keys,
//! brands, programmes, exchange terms and webhook endpoints, by whom (role and id, never a
//! key or personal data). Points adjustments are not here: the ledger
//! entry of each already records its operator and reason.

kit::stored_enum! {
    /// An audited action. Stored as the names below.
    #[derive(async_graphql::Enum, Hash)]
    pub enum AuditAction {
        KeyIssued,
        KeyRotated,
        KeyRevoked,
        BrandOnboarded,
        SandboxOpened,
        ProgrammeUpdated,
        TermsProposed,
        TermsAccepted,
        WebhookRegistered,
        WebhookPaused,
        WebhookResumed,
        StatementClosed,
        SettlementRecorded,
        CampaignCreated,
        CampaignEnded,
        RewardCreated,
        CouponsDropped,
    }
}
