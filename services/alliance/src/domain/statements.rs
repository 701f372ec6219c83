//! Closed clearing statements as plain rules: which clearing entries a
//! statement takes, how its lines and totals add up, how it is written as
//! CSV, and what a settlement against it may be. Amounts in fen; instants
//! in µs since the epoch.
//!
//! A statement closes a month of one brand (in its programme's zone): it
//! takes every clearing entry of the brand not yet on a statement and made
//! before the month's end. An entry made before the month began (one that
//! committed after an earlier statement closed) is an adjustment line of
//! this one, so nothing is ever rewritten and nothing is lost.

use std::collections::BTreeMap;

use kit::scalar::checked_total;

use crate::error::{Error, Result};

/// One clearing entry, as a statement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    pub exchange_id: String,
    pub counterparty_brand_id: String,
    pub points_sent: i64,
    pub points_received: i64,
    /// Positive: receivable from the counterparty; negative: payable.
    pub amount_fen: i64,
    pub fee_points: i64,
    pub fee_fen: i64,
    pub created_at: i64,
}

/// A line: one counterparty, in the period or as an adjustment of an
/// earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub counterparty_brand_id: String,
    /// Entries made before the period began, closed here.
    pub adjustment: bool,
    pub exchanges: i64,
    pub points_sent: i64,
    pub points_received: i64,
    pub payable_fen: i64,
    pub receivable_fen: i64,
    pub fee_points: i64,
    pub fee_fen: i64,
}

impl Line {
    pub fn net_fen(&self) -> i64 {
        self.receivable_fen - self.payable_fen
    }
}

/// What a statement adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub exchanges: i64,
    pub points_sent: i64,
    pub points_received: i64,
    pub payable_fen: i64,
    pub receivable_fen: i64,
    pub fee_points: i64,
    pub fee_fen: i64,
}

impl Totals {
    /// Receivable minus payable: positive when the alliance owes the brand.
    pub fn net_fen(&self) -> i64 {
        self.receivable_fen - self.payable_fen
    }
}

/// The lines (by counterparty, the period's before its adjustments) and
/// totals of `entries` for a period starting at `period_start`;
/// LIMIT_EXCEEDED if a total leaves the exact range.
pub fn summarise(entries: &[StatementEntry], period_start: i64) -> Result<(Vec<Line>, Totals)> {
    let mut lines: BTreeMap<(bool, &str), Vec<&StatementEntry>> = BTreeMap::new();
    for e in entries {
        lines
            .entry((
                e.created_at < period_start,
                e.counterparty_brand_id.as_str(),
            ))
            .or_default()
            .push(e);
    }
    let total = |what: &str, values: Vec<i64>| -> Result<i64> { Ok(checked_total(what, values)?) };
    let mut out = Vec::new();
    for ((adjustment, counterparty), es) in lines {
        out.push(Line {
            counterparty_brand_id: counterparty.to_owned(),
            adjustment,
            exchanges: es.len() as i64,
            points_sent: total("points sent", es.iter().map(|e| e.points_sent).collect())?,
            points_received: total(
                "points received",
                es.iter().map(|e| e.points_received).collect(),
            )?,
            payable_fen: total(
                "the payable total",
                es.iter().map(|e| (-e.amount_fen).max(0)).collect(),
            )?,
            receivable_fen: total(
                "the receivable total",
                es.iter().map(|e| e.amount_fen.max(0)).collect(),
            )?,
            fee_points: total("fee points", es.iter().map(|e| e.fee_points).collect())?,
            fee_fen: total("fees", es.iter().map(|e| e.fee_fen).collect())?,
        });
    }
    let totals = Totals {
        exchanges: out.iter().map(|l| l.exchanges).sum(),
        points_sent: total("points sent", out.iter().map(|l| l.points_sent).collect())?,
        points_received: total(
            "points received",
            out.iter().map(|l| l.points_received).collect(),
        )?,
        payable_fen: total(
            "the payable total",
            out.iter().map(|l| l.payable_fen).collect(),
        )?,
        receivable_fen: total(
            "the receivable total",
            out.iter().map(|l| l.receivable_fen).collect(),
        )?,
        fee_points: total("fee points", out.iter().map(|l| l.fee_points).collect())?,
        fee_fen: total("fees", out.iter().map(|l| l.fee_fen).collect())?,
    };
    Ok((out, totals))
}

/// A statement's reference: `<brand>-<number, six digits>`.
pub fn reference(brand_id: &str, number: i64) -> String {
    format!("{brand_id}-{number:06}")
}

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 15] = [
    "statement",
    "brand",
    "period",
    "record",
    "counterparty",
    "adjustment",
    "exchange_id",
    "created_at",
    "points_sent",
    "points_received",
    "payable_fen",
    "receivable_fen",
    "net_fen",
    "fee_points",
    "fee_fen",
];

/// What a CSV export names the statement by.
pub struct CsvHeading<'a> {
    pub reference: &'a str,
    pub brand_id: &'a str,
    pub period: &'a str,
}

/// The statement as CSV (RFC 4180): one EXCHANGE record per entry, one
/// COUNTERPARTY record per line (after its exchanges), one TOTAL record;
/// amounts in fen, instants RFC 3339 UTC. The records add up to the
/// statement's lines and totals exactly (it is made from the same sums).
pub fn to_csv(
    heading: &CsvHeading<'_>,
    entries: &[StatementEntry],
    period_start: i64,
) -> Result<String> {
    let (lines, totals) = summarise(entries, period_start)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail =
        |e: csv::Error| Error::invalid("csv", format!("the statement could not be written: {e}"));
    out.write_record(CSV_HEADER).map_err(fail)?;
    let record = |kind: &str,
                  counterparty: &str,
                  adjustment: &str,
                  exchange: &str,
                  at: &str,
                  n: [i64; 7]| {
        let mut r: Vec<String> = vec![
            heading.reference.to_owned(),
            heading.brand_id.to_owned(),
            heading.period.to_owned(),
            kind.to_owned(),
            counterparty.to_owned(),
            adjustment.to_owned(),
            exchange.to_owned(),
            at.to_owned(),
        ];
        r.extend(n.iter().map(i64::to_string));
        r
    };
    for line in &lines {
        let adjustment = if line.adjustment { "true" } else { "false" };
        for e in entries.iter().filter(|e| {
            e.counterparty_brand_id == line.counterparty_brand_id
                && (e.created_at < period_start) == line.adjustment
        }) {
            let at = kit::time::from_micros(e.created_at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let (payable, receivable) = ((-e.amount_fen).max(0), e.amount_fen.max(0));
            out.write_record(record(
                "EXCHANGE",
                &e.counterparty_brand_id,
                adjustment,
                &e.exchange_id,
                &at,
                [
                    e.points_sent,
                    e.points_received,
                    payable,
                    receivable,
                    receivable - payable,
                    e.fee_points,
                    e.fee_fen,
                ],
            ))
            .map_err(fail)?;
        }
        out.write_record(record(
            "COUNTERPARTY",
            &line.counterparty_brand_id,
            adjustment,
            "",
            "",
            [
                line.points_sent,
                line.points_received,
                line.payable_fen,
                line.receivable_fen,
                line.net_fen(),
                line.fee_points,
                line.fee_fen,
            ],
        ))
        .map_err(fail)?;
    }
    out.write_record(record(
        "TOTAL",
        "",
        "",
        "",
        "",
        [
            totals.points_sent,
            totals.points_received,
            totals.payable_fen,
            totals.receivable_fen,
            totals.net_fen(),
            totals.fee_points,
            totals.fee_fen,
        ],
    ))
    .map_err(fail)?;
    let bytes = out
        .into_inner()
        .map_err(|e| Error::invalid("csv", format!("the statement could not be written: {e}")))?;
    String::from_utf8(bytes).map_err(|_| Error::invalid("csv", "the statement is not UTF-8"))
}

/// A settlement of `amount_fen` (above zero) against a statement whose net
/// is `net_fen`, with `settled_fen` already recorded: it may not exceed
/// what is outstanding. Returns its effect on the brand's position
/// (negative when the alliance paid the brand, positive when the brand
/// paid).
pub fn settlement_effect(net_fen: i64, settled_fen: i64, amount_fen: i64) -> Result<i64> {
    if amount_fen <= 0 {
        return Err(Error::invalid(
            "amountFen",
            "a settlement pays more than 0 fen",
        ));
    }
    let outstanding = net_fen
        .unsigned_abs()
        .saturating_sub(settled_fen.unsigned_abs());
    if amount_fen.unsigned_abs() > outstanding {
        return Err(Error::invalid(
            "amountFen",
            format!("only {outstanding} fen of this statement are outstanding"),
        ));
    }
    Ok(if net_fen > 0 { -amount_fen } else { amount_fen })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(counterparty: &str, amount: i64, at: i64) -> StatementEntry {
        StatementEntry {
            exchange_id: format!("x{at}"),
            counterparty_brand_id: counterparty.into(),
            points_sent: if amount < 0 { 100 } else { 0 },
            points_received: if amount > 0 { 50 } else { 0 },
            amount_fen: amount,
            fee_points: if amount < 0 { 1 } else { 0 },
            fee_fen: if amount < 0 { 2 } else { 0 },
            created_at: at,
        }
    }

    #[test]
    fn late_entries_are_adjustment_lines_and_totals_add_up() {
        let entries = [
            entry("cinema", -400, 10),
            entry("cinema", 300, 20),
            entry("apparel", 50, 30),
            entry("cinema", -7, 5), // before the period: late
        ];
        let (lines, totals) = summarise(&entries, 10).unwrap();
        assert_eq!(lines.len(), 3);
        let late: Vec<&Line> = lines.iter().filter(|l| l.adjustment).collect();
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].payable_fen, 7);
        let cinema = lines
            .iter()
            .find(|l| l.counterparty_brand_id == "cinema" && !l.adjustment)
            .unwrap();
        assert_eq!(
            (cinema.payable_fen, cinema.receivable_fen, cinema.exchanges),
            (400, 300, 2)
        );
        assert_eq!(totals.payable_fen, 407);
        assert_eq!(totals.receivable_fen, 350);
        assert_eq!(totals.net_fen(), -57);
        assert_eq!(totals.exchanges, 4);
    }

    #[test]
    fn the_csv_records_add_up_to_the_statement() {
        let entries = [
            entry("cinema", -400, 10),
            entry("cinema", 300, 20),
            entry("apparel", 50, 30),
            entry("cinema", -7, 5),
        ];
        let heading = CsvHeading {
            reference: "coffee-000001",
            brand_id: "coffee",
            period: "2026-11",
        };
        let text = to_csv(&heading, &entries, 10).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(headers.iter().collect::<Vec<_>>(), CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let col = |name: &str| CSV_HEADER.iter().position(|h| *h == name).unwrap();
        let sum = |kind: &str, name: &str| -> i64 {
            rows.iter()
                .filter(|r| &r[col("record")] == kind)
                .map(|r| r[col(name)].parse::<i64>().unwrap())
                .sum()
        };
        assert_eq!(
            rows.iter()
                .filter(|r| &r[col("record")] == "EXCHANGE")
                .count(),
            4
        );
        for name in [
            "payable_fen",
            "receivable_fen",
            "net_fen",
            "fee_fen",
            "points_sent",
        ] {
            assert_eq!(sum("EXCHANGE", name), sum("COUNTERPARTY", name), "{name}");
            assert_eq!(sum("EXCHANGE", name), sum("TOTAL", name), "{name}");
        }
        assert_eq!(sum("TOTAL", "net_fen"), -57);
    }

    #[test]
    fn settlements_pay_what_is_outstanding_in_the_net_direction() {
        // The alliance owes the brand 1,000: paying it lowers the position.
        assert_eq!(settlement_effect(1_000, 0, 600).unwrap(), -600);
        assert_eq!(settlement_effect(1_000, 600, 400).unwrap(), -400);
        assert_eq!(
            settlement_effect(1_000, 600, 401).unwrap_err().field(),
            Some("amountFen")
        );
        // The brand owes 500: its payment raises it.
        assert_eq!(settlement_effect(-500, 0, 500).unwrap(), 500);
        assert!(settlement_effect(-500, 0, 0).is_err());
        assert!(settlement_effect(0, 0, 1).is_err(), "nothing to settle");
    }

    proptest! {
        #[test]
        fn totals_are_the_sums_of_the_entries_whatever_their_order(
            amounts in proptest::collection::vec((-100_000i64..100_000, 0i64..100, 0usize..3), 0..40),
            start in 0i64..100,
        ) {
            let names = ["a", "b", "c"];
            let mut entries: Vec<StatementEntry> = amounts
                .iter()
                .map(|(amount, at, who)| entry(names[*who], *amount, *at))
                .collect();
            let (_, totals) = summarise(&entries, start).unwrap();
            prop_assert_eq!(totals.net_fen(), entries.iter().map(|e| e.amount_fen).sum::<i64>());
            prop_assert_eq!(totals.exchanges, entries.len() as i64);
            entries.reverse();
            let (_, reversed) = summarise(&entries, start).unwrap();
            prop_assert_eq!(reversed, totals);
        }
    }
}
