use kit::migration::columns::{id, index, int, opt_id, opt_int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000600_programmes_ledger_exchange"
    }
}

#[derive(DeriveIden)]
enum Brands {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Programmes {
    Table,
    Id,
    BrandId,
    PointsName,
    TimeZone,
    CashValueFen,
    PointsPerYuan,
    PendingDays,
    ExpiryMonths,
    ReturnPolicy,
    CanSend,
    CanReceive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PartnerKeys {
    Table,
    Id,
    BrandId,
    Label,
    KeyHash,
    KeyPrefix,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    MemberId,
    ProgrammeId,
    ActiveBalance,
    PendingBalance,
    LifetimeEarned,
    NextSeq,
    MergedInto,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Lots {
    Table,
    Id,
    AccountId,
    ProgrammeId,
    State,
    Original,
    Remaining,
    ActivatesAt,
    ExpiresAt,
    CreatedAt,
    CreatedByEntryId,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    AccountId,
    ProgrammeId,
    Seq,
    Kind,
    Points,
    PendingPoints,
    BalanceAfter,
    PendingAfter,
    ForgivenPoints,
    Reference,
    SourceSystem,
    ExternalTxnId,
    ReversesEntryId,
    Actor,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LotMovements {
    Table,
    Id,
    EntryId,
    LotId,
    Points,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    Operation,
    RequestHash,
    ResultId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExchangeTerms {
    Table,
    Id,
    FromProgrammeId,
    ToProgrammeId,
    Rate,
    FeeBp,
    MinBlock,
    DailyLimit,
    YearlyLimit,
    Version,
    AcceptedByFromAt,
    AcceptedByToAt,
    ProposedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Quotes {
    Table,
    Id,
    MemberId,
    TermsId,
    TermsVersion,
    FromProgrammeId,
    ToProgrammeId,
    PointsOut,
    FeePoints,
    PointsIn,
    Rate,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Exchanges {
    Table,
    Id,
    QuoteId,
    MemberId,
    FromProgrammeId,
    ToProgrammeId,
    FromBrandId,
    ToBrandId,
    PointsOut,
    FeePoints,
    PointsIn,
    Rate,
    ValueFen,
    FeeValueFen,
    OutEntryId,
    InEntryId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ClearingEntries {
    Table,
    Id,
    ExchangeId,
    BrandId,
    CounterpartyBrandId,
    PointsSent,
    PointsReceived,
    AmountFen,
    FeePoints,
    FeeFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderEarns {
    Table,
    OrderId,
    ProgrammeId,
    MemberId,
    PaidFen,
    Points,
    RefundedFen,
    ReversedPoints,
    EntryId,
    LotId,
    PlacedAt,
}

#[derive(DeriveIden)]
enum OrderEarnLines {
    Table,
    LineId,
    OrderId,
    ProgrammeId,
    AmountFen,
}

#[derive(DeriveIden)]
enum AppliedRefunds {
    Table,
    RefundId,
    OrderId,
    AppliedAt,
}

#[derive(DeriveIden)]
enum MemberAliases {
    Table,
    MergedId,
    SurvivorId,
    MergedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Brands::Table)
                    .col(id(Brands::Id).primary_key())
                    .col(text(Brands::Name, 128))
                    .col(int(Brands::CreatedAt))
                    .col(int(Brands::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Programmes::Table)
                    .col(id(Programmes::Id).primary_key())
                    .col(id(Programmes::BrandId).unique_key())
                    .col(text(Programmes::PointsName, 64))
                    .col(text(Programmes::TimeZone, 64))
                    // Exact decimals, kept as their canonical text.
                    .col(text(Programmes::CashValueFen, 40))
                    .col(text(Programmes::PointsPerYuan, 40))
                    .col(
                        int(Programmes::PendingDays)
                            .check(Expr::col(Programmes::PendingDays).gte(0)),
                    )
                    .col(opt_int(Programmes::ExpiryMonths))
                    .col(text(Programmes::ReturnPolicy, 16))
                    .col(ColumnDef::new(Programmes::CanSend).boolean().not_null())
                    .col(ColumnDef::new(Programmes::CanReceive).boolean().not_null())
                    .col(int(Programmes::CreatedAt))
                    .col(int(Programmes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerKeys::Table)
                    .col(id(PartnerKeys::Id).primary_key())
                    .col(id(PartnerKeys::BrandId))
                    .col(text(PartnerKeys::Label, 128))
                    .col(text(PartnerKeys::KeyHash, 64).unique_key())
                    .col(text(PartnerKeys::KeyPrefix, 16))
                    .col(int(PartnerKeys::CreatedAt))
                    .col(opt_int(PartnerKeys::LastUsedAt))
                    .col(opt_int(PartnerKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_partner_keys_brand",
                PartnerKeys::Table,
                vec![
                    PartnerKeys::BrandId.into_iden(),
                    PartnerKeys::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(id(Accounts::Id).primary_key())
                    .col(id(Accounts::MemberId))
                    .col(id(Accounts::ProgrammeId))
                    .col(int(Accounts::ActiveBalance))
                    .col(
                        int(Accounts::PendingBalance)
                            .check(Expr::col(Accounts::PendingBalance).gte(0)),
                    )
                    .col(int(Accounts::LifetimeEarned))
                    .col(int(Accounts::NextSeq))
                    .col(opt_id(Accounts::MergedInto))
                    .col(int(Accounts::CreatedAt))
                    .col(int(Accounts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_accounts_member_programme",
                    Accounts::Table,
                    vec![
                        Accounts::MemberId.into_iden(),
                        Accounts::ProgrammeId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        // A lot never holds less than nothing, except the one arrears lot of
        // a programme that allows a negative balance.
        manager
            .create_table(
                Table::create()
                    .table(Lots::Table)
                    .col(id(Lots::Id).primary_key())
                    .col(id(Lots::AccountId))
                    .col(id(Lots::ProgrammeId))
                    .col(text(Lots::State, 16))
                    .col(int(Lots::Original))
                    .col(int(Lots::Remaining))
                    .col(opt_int(Lots::ActivatesAt))
                    .col(opt_int(Lots::ExpiresAt))
                    .col(int(Lots::CreatedAt))
                    .col(id(Lots::CreatedByEntryId))
                    .check(
                        Expr::col(Lots::State)
                            .eq("ARREARS")
                            .and(Expr::col(Lots::Remaining).lte(0))
                            .or(Expr::col(Lots::State)
                                .ne("ARREARS")
                                .and(Expr::col(Lots::Remaining).gte(0))
                                .and(Expr::col(Lots::Remaining).lte(Expr::col(Lots::Original)))),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_lots_account",
                Lots::Table,
                vec![Lots::AccountId.into_iden(), Lots::State.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_lots_activation",
                Lots::Table,
                vec![Lots::State.into_iden(), Lots::ActivatesAt.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_lots_expiry",
                Lots::Table,
                vec![Lots::State.into_iden(), Lots::ExpiresAt.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .col(id(Entries::Id).primary_key())
                    .col(id(Entries::AccountId))
                    .col(id(Entries::ProgrammeId))
                    .col(int(Entries::Seq))
                    .col(text(Entries::Kind, 16))
                    .col(int(Entries::Points))
                    .col(int(Entries::PendingPoints))
                    .col(int(Entries::BalanceAfter))
                    .col(int(Entries::PendingAfter))
                    .col(
                        int(Entries::ForgivenPoints)
                            .check(Expr::col(Entries::ForgivenPoints).gte(0)),
                    )
                    .col(text(Entries::Reference, 160))
                    .col(ColumnDef::new(Entries::SourceSystem).string_len(64).null())
                    .col(
                        ColumnDef::new(Entries::ExternalTxnId)
                            .string_len(128)
                            .null(),
                    )
                    .col(opt_id(Entries::ReversesEntryId))
                    .col(text(Entries::Actor, 160))
                    .col(text(Entries::Reason, 256))
                    .col(int(Entries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // One sequence number per account: two writers that both skipped the
        // account lock could never both commit.
        manager
            .create_index(
                index(
                    "uq_entries_account_seq",
                    Entries::Table,
                    vec![Entries::AccountId.into_iden(), Entries::Seq.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        // The business key: one external transaction is recorded once per
        // programme and kind, whatever idempotency key came with it.
        manager
            .create_index(
                index(
                    "uq_entries_business_reference",
                    Entries::Table,
                    vec![
                        Entries::ProgrammeId.into_iden(),
                        Entries::Kind.into_iden(),
                        Entries::SourceSystem.into_iden(),
                        Entries::ExternalTxnId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_entries_reverses",
                Entries::Table,
                vec![Entries::ReversesEntryId.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LotMovements::Table)
                    .col(id(LotMovements::Id).primary_key())
                    .col(id(LotMovements::EntryId))
                    .col(id(LotMovements::LotId))
                    .col(int(LotMovements::Points))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_lot_movements_entry", LotMovements::EntryId),
            ("idx_lot_movements_lot", LotMovements::LotId),
        ] {
            manager
                .create_index(index(name, LotMovements::Table, vec![col.into_iden()]))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    // Since kit's idempotency module, every service has
                    // this table from the kit's migrations (same shape).
                    .if_not_exists()
                    .col(text(IdempotencyKeys::Scope, 96))
                    .col(text(IdempotencyKeys::Key, 128))
                    .col(text(IdempotencyKeys::Operation, 32))
                    .col(text(IdempotencyKeys::RequestHash, 64))
                    .col(id(IdempotencyKeys::ResultId))
                    .col(int(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExchangeTerms::Table)
                    .col(id(ExchangeTerms::Id).primary_key())
                    .col(id(ExchangeTerms::FromProgrammeId))
                    .col(id(ExchangeTerms::ToProgrammeId))
                    .col(text(ExchangeTerms::Rate, 40))
                    .col(int(ExchangeTerms::FeeBp))
                    .col(int(ExchangeTerms::MinBlock))
                    .col(int(ExchangeTerms::DailyLimit))
                    .col(int(ExchangeTerms::YearlyLimit))
                    .col(int(ExchangeTerms::Version))
                    .col(opt_int(ExchangeTerms::AcceptedByFromAt))
                    .col(opt_int(ExchangeTerms::AcceptedByToAt))
                    .col(text(ExchangeTerms::ProposedBy, 160))
                    .col(int(ExchangeTerms::CreatedAt))
                    .col(int(ExchangeTerms::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_exchange_terms_pair",
                    ExchangeTerms::Table,
                    vec![
                        ExchangeTerms::FromProgrammeId.into_iden(),
                        ExchangeTerms::ToProgrammeId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Quotes::Table)
                    .col(id(Quotes::Id).primary_key())
                    .col(id(Quotes::MemberId))
                    .col(id(Quotes::TermsId))
                    .col(int(Quotes::TermsVersion))
                    .col(id(Quotes::FromProgrammeId))
                    .col(id(Quotes::ToProgrammeId))
                    .col(int(Quotes::PointsOut).check(Expr::col(Quotes::PointsOut).gt(0)))
                    .col(int(Quotes::FeePoints))
                    .col(int(Quotes::PointsIn).check(Expr::col(Quotes::PointsIn).gt(0)))
                    .col(text(Quotes::Rate, 40))
                    .col(int(Quotes::CreatedAt))
                    .col(int(Quotes::ExpiresAt))
                    .col(opt_int(Quotes::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Exchanges::Table)
                    .col(id(Exchanges::Id).primary_key())
                    .col(id(Exchanges::QuoteId).unique_key())
                    .col(id(Exchanges::MemberId))
                    .col(id(Exchanges::FromProgrammeId))
                    .col(id(Exchanges::ToProgrammeId))
                    .col(id(Exchanges::FromBrandId))
                    .col(id(Exchanges::ToBrandId))
                    .col(int(Exchanges::PointsOut))
                    .col(int(Exchanges::FeePoints))
                    .col(int(Exchanges::PointsIn))
                    .col(text(Exchanges::Rate, 40))
                    .col(int(Exchanges::ValueFen))
                    .col(int(Exchanges::FeeValueFen))
                    .col(id(Exchanges::OutEntryId))
                    .col(id(Exchanges::InEntryId))
                    .col(int(Exchanges::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_exchanges_member_pair",
                Exchanges::Table,
                vec![
                    Exchanges::MemberId.into_iden(),
                    Exchanges::FromProgrammeId.into_iden(),
                    Exchanges::ToProgrammeId.into_iden(),
                    Exchanges::CreatedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClearingEntries::Table)
                    .col(id(ClearingEntries::Id).primary_key())
                    .col(id(ClearingEntries::ExchangeId))
                    .col(id(ClearingEntries::BrandId))
                    .col(id(ClearingEntries::CounterpartyBrandId))
                    .col(int(ClearingEntries::PointsSent))
                    .col(int(ClearingEntries::PointsReceived))
                    .col(int(ClearingEntries::AmountFen))
                    .col(int(ClearingEntries::FeePoints))
                    .col(int(ClearingEntries::FeeFen))
                    .col(int(ClearingEntries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_clearing_brand",
                ClearingEntries::Table,
                vec![
                    ClearingEntries::BrandId.into_iden(),
                    ClearingEntries::CreatedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderEarns::Table)
                    .col(id(OrderEarns::OrderId))
                    .col(id(OrderEarns::ProgrammeId))
                    .col(id(OrderEarns::MemberId))
                    .col(int(OrderEarns::PaidFen))
                    .col(int(OrderEarns::Points))
                    .col(int(OrderEarns::RefundedFen))
                    .col(int(OrderEarns::ReversedPoints))
                    .col(opt_id(OrderEarns::EntryId))
                    .col(opt_id(OrderEarns::LotId))
                    .col(int(OrderEarns::PlacedAt))
                    .check(Expr::col(OrderEarns::ReversedPoints).lte(Expr::col(OrderEarns::Points)))
                    .primary_key(
                        Index::create()
                            .col(OrderEarns::OrderId)
                            .col(OrderEarns::ProgrammeId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderEarnLines::Table)
                    .col(id(OrderEarnLines::LineId).primary_key())
                    .col(id(OrderEarnLines::OrderId))
                    .col(id(OrderEarnLines::ProgrammeId))
                    .col(int(OrderEarnLines::AmountFen))
                    .to_owned(),
            )
            .await?;
        // A refund (or cancellation) of an order is applied once, even by a
        // consumer that lost its position.
        manager
            .create_table(
                Table::create()
                    .table(AppliedRefunds::Table)
                    .col(text(AppliedRefunds::RefundId, 96).primary_key())
                    .col(id(AppliedRefunds::OrderId))
                    .col(int(AppliedRefunds::AppliedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MemberAliases::Table)
                    .col(id(MemberAliases::MergedId).primary_key())
                    .col(id(MemberAliases::SurvivorId))
                    .col(int(MemberAliases::MergedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
