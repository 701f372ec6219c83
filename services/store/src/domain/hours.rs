//! Opening hours, per weekday and with dated exceptions, in the store's own
//! time zone. An interval that closes at or before it opens runs past
//! midnight (22:00-02:00 keeps a Friday night open into Saturday).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn of(date: NaiveDate) -> Self {
        Self::ALL[date.weekday().num_days_from_monday() as usize]
    }
}

/// Minutes since local midnight: opens in 0..1440, closes in 1..=1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub opens: u16,
    pub closes: u16,
}

impl Interval {
    /// Parses "HH:MM"-"HH:MM"; "24:00" may close a day.
    pub fn parse(field: &str, opens: &str, closes: &str) -> Result<Self> {
        let opens = parse_clock(field, opens, false)?;
        let closes = parse_clock(field, closes, true)?;
        if opens == closes {
            return Err(Error::invalid(
                field,
                "an interval must not open and close at the same time",
            ));
        }
        Ok(Self { opens, closes })
    }

    fn overnight(self) -> bool {
        self.closes <= self.opens
    }

    pub fn format(minutes: u16) -> String {
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

fn parse_clock(field: &str, raw: &str, may_be_24: bool) -> Result<u16> {
    let bad = || Error::invalid(field, format!("{raw:?} is not a time of day as HH:MM"));
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) if may_be_24 => Ok(1440),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// A day that differs from the weekly pattern; no intervals means closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursException {
    pub date: NaiveDate,
    pub intervals: Vec<Interval>,
}

pub const MAX_INTERVALS_PER_DAY: usize = 4;
pub const MAX_EXCEPTIONS: usize = 400;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// Indexed Monday = 0.
    pub weekly: [Vec<Interval>; 7],
    pub exceptions: Vec<HoursException>,
}

impl OpeningHours {
    /// Builds and checks hours: a few intervals per day, no overlaps, one
    /// exception per date.
    pub fn new(
        weekly: Vec<(Weekday, Interval)>,
        mut exceptions: Vec<HoursException>,
    ) -> Result<Self> {
        let mut days: [Vec<Interval>; 7] = Default::default();
        for (day, interval) in weekly {
            days[day.index()].push(interval);
        }
        for intervals in days
            .iter_mut()
            .chain(exceptions.iter_mut().map(|e| &mut e.intervals))
        {
            check_day(intervals)?;
        }
        exceptions.sort_by_key(|e| e.date);
        if exceptions.windows(2).any(|w| w[0].date == w[1].date) {
            return Err(Error::invalid(
                "exceptions",
                "two exceptions for the same date",
            ));
        }
        if exceptions.len() > MAX_EXCEPTIONS {
            return Err(Error::invalid(
                "exceptions",
                format!("at most {MAX_EXCEPTIONS} exceptions"),
            ));
        }
        Ok(Self {
            weekly: days,
            exceptions,
        })
    }

    /// The intervals that apply on `date` (an exception wins).
    pub fn on(&self, date: NaiveDate) -> &[Interval] {
        match self.exceptions.binary_search_by_key(&date, |e| e.date) {
            Ok(i) => &self.exceptions[i].intervals,
            Err(_) => &self.weekly[Weekday::of(date).index()],
        }
    }

    /// Open at this local wall-clock time? Yesterday's overnight intervals
    /// count in the early hours.
    pub fn is_open_at(&self, local: NaiveDateTime) -> bool {
        let date = local.date();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let today = self.on(date).iter().any(|i| {
            if i.overnight() {
                minute >= i.opens
            } else {
                minute >= i.opens && minute < i.closes
            }
        });
        let spill = date
            .pred_opt()
            .map(|y| {
                self.on(y)
                    .iter()
                    .any(|i| i.overnight() && minute < i.closes)
            })
            .unwrap_or(false);
        today || spill
    }

    /// Open at `now`, in time zone `tz`?
    pub fn is_open(&self, tz: Tz, now: DateTime<Utc>) -> bool {
        self.is_open_at(now.with_timezone(&tz).naive_local())
    }
}

fn check_day(intervals: &mut [Interval]) -> Result<()> {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        return Err(Error::invalid(
            "hours",
            format!("at most {MAX_INTERVALS_PER_DAY} intervals a day"),
        ));
    }
    intervals.sort_by_key(|i| i.opens);
    for pair in intervals.windows(2) {
        let first_end = if pair[0].overnight() {
            1440
        } else {
            pair[0].closes
        };
        if pair[1].opens < first_end {
            return Err(Error::invalid("hours", "intervals of one day overlap"));
        }
    }
    if intervals.iter().filter(|i| i.overnight()).count() > 1
        || intervals
            .iter()
            .take(intervals.len().saturating_sub(1))
            .any(|i| i.overnight())
    {
        return Err(Error::invalid(
            "hours",
            "only the last interval of a day may run past midnight",
        ));
    }
    Ok(())
}

/// Parses an IANA time zone name (`Asia/Shanghai`).
pub fn parse_time_zone(raw: &str) -> Result<Tz> {
    raw.trim().parse::<Tz>().map_err(|_| {
        Error::invalid(
            "timeZone",
            format!("{raw:?} is not an IANA time zone such as Asia/Shanghai"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn iv(o: &str, c: &str) -> Interval {
        Interval::parse("hours", o, c).unwrap()
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn clock_times_are_parsed_strictly() {
        assert_eq!(
            iv("09:00", "21:30"),
            Interval {
                opens: 540,
                closes: 1290
            }
        );
        assert_eq!(iv("00:00", "24:00").closes, 1440);
        for (o, c) in [
            ("9:00", "21:00"),
            ("24:00", "01:00"),
            ("10:60", "11:00"),
            ("10:00", "10:00"),
            ("x", "y"),
        ] {
            assert!(Interval::parse("hours", o, c).is_err(), "{o}-{c}");
        }
    }

    #[test]
    fn weekly_hours_exceptions_and_overnight() {
        // 2026-11-20 is a Friday.
        let hours = OpeningHours::new(
            vec![
                (Weekday::Friday, iv("10:00", "14:00")),
                (Weekday::Friday, iv("17:00", "02:00")),
                (Weekday::Saturday, iv("10:00", "22:00")),
            ],
            vec![HoursException {
                date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                intervals: vec![],
            }],
        )
        .unwrap();
        assert!(hours.is_open_at(local("2026-11-20 10:00")));
        assert!(
            !hours.is_open_at(local("2026-11-20 14:00")),
            "closing minute is closed"
        );
        assert!(!hours.is_open_at(local("2026-11-20 16:59")));
        assert!(hours.is_open_at(local("2026-11-20 23:30")));
        assert!(
            hours.is_open_at(local("2026-11-21 01:59")),
            "Friday night runs into Saturday"
        );
        assert!(!hours.is_open_at(local("2026-11-21 02:00")));
        assert!(hours.is_open_at(local("2026-11-21 12:00")));
        assert!(
            !hours.is_open_at(local("2026-11-28 12:00")),
            "the exception closes that Saturday"
        );
        assert!(
            !hours.is_open_at(local("2026-11-23 12:00")),
            "no Monday hours"
        );
    }

    #[test]
    fn open_now_is_judged_in_the_stores_time_zone() {
        let hours = OpeningHours::new(
            Weekday::ALL
                .iter()
                .map(|d| (*d, iv("09:00", "21:00")))
                .collect(),
            vec![],
        )
        .unwrap();
        let shanghai = parse_time_zone("Asia/Shanghai").unwrap();
        let london = parse_time_zone("Europe/London").unwrap();
        // 02:00 UTC is 10:00 in Shanghai and 02:00 in London.
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap();
        assert!(hours.is_open(shanghai, now));
        assert!(!hours.is_open(london, now));
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn bad_days_are_refused() {
        let overlapping = OpeningHours::new(
            vec![
                (Weekday::Monday, iv("09:00", "12:00")),
                (Weekday::Monday, iv("11:00", "13:00")),
            ],
            vec![],
        );
        assert!(overlapping.is_err());
        let too_many = OpeningHours::new(
            (0..5)
                .map(|h| {
                    (
                        Weekday::Monday,
                        iv(&format!("0{h}:00"), &format!("0{h}:30")),
                    )
                })
                .collect(),
            vec![],
        );
        assert!(too_many.is_err());
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let twice = OpeningHours::new(
            vec![],
            vec![
                HoursException {
                    date,
                    intervals: vec![],
                },
                HoursException {
                    date,
                    intervals: vec![],
                },
            ],
        );
        assert!(twice.is_err());
    }
}
