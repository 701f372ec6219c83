//! Personal fields, parsed at the edge: a value of these types is valid.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::error::{Error, Result};

/// A phone number in E.164 form (`+8613812345678`). Numbers without a
/// country code are read as Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || Error::invalid("phone", "phone is not a valid phone number");
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(invalid());
        }
        let number = phonenumber::parse(Some(phonenumber::country::Id::CN), trimmed)
            .map_err(|_| invalid())?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address whose syntax was checked; stored trimmed, with the
/// domain lower-cased (domains are case-insensitive, local parts may not be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        let invalid = || Error::invalid("email", "email is not a valid e-mail address");
        if trimmed.len() > 254 || !email_address::EmailAddress::is_valid(trimmed) {
            return Err(invalid());
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        if !domain.contains('.') {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name: trimmed, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self> {
        super::clean_text("name", raw, Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum Gender {
        Female,
        Male,
        Other,
        Undisclosed,
    }
}

/// A birthday: not in the future, not before 1900.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birthday(NaiveDate);

impl Birthday {
    /// Refuses a date after today anywhere on Earth (UTC+14 at `now`): a
    /// member whose birthday is today where they live is never refused.
    pub fn parse(date: NaiveDate, now: DateTime<Utc>) -> Result<Self> {
        let today = (now + chrono::Duration::hours(14)).date_naive();
        if date > today {
            return Err(Error::invalid("birthday", "birthday is in the future"));
        }
        if date.year() < 1900 {
            return Err(Error::invalid("birthday", "birthday is before 1900"));
        }
        Ok(Self(date))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// A profile change: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub name: Option<PersonName>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub birthday: Option<Birthday>,
    pub gender: Option<Gender>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gender_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (Gender::Female, "FEMALE"),
            (Gender::Male, "MALE"),
            (Gender::Other, "OTHER"),
            (Gender::Undisclosed, "UNDISCLOSED"),
        ]);
    }

    #[test]
    fn chinese_numbers_without_country_code_become_e164() {
        assert_eq!(
            PhoneNumber::parse("138 1234 5678").unwrap().as_str(),
            "+8613812345678"
        );
        assert_eq!(
            PhoneNumber::parse("+86 138-1234-5678").unwrap().as_str(),
            "+8613812345678"
        );
        assert_eq!(
            PhoneNumber::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn invalid_phone_numbers_name_the_field() {
        for raw in ["", "12", "phone", "+86 000", "1381234567899999"] {
            let err = PhoneNumber::parse(raw).unwrap_err();
            assert!(
                err.code() == kit::ErrorCode::BadUserInput && err.field() == Some("phone"),
                "{raw}"
            );
        }
    }

    #[test]
    fn emails_are_checked_and_domains_lowercased() {
        assert_eq!(
            Email::parse(" Li.Lei@Example.COM ").unwrap().as_str(),
            "Li.Lei@example.com"
        );
        for raw in ["", "nobody", "a@", "@b.com", "a b@c.com", "a@localhost"] {
            let err = Email::parse(raw).unwrap_err();
            assert!(
                err.code() == kit::ErrorCode::BadUserInput && err.field() == Some("email"),
                "{raw}"
            );
        }
    }

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(PersonName::parse("  王芳 ").unwrap().as_str(), "王芳");
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn birthdays_are_plausible() {
        use chrono::TimeZone as _;
        let now = Utc.with_ymd_and_hms(2028, 2, 29, 9, 0, 0).unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(Birthday::parse(day(1990, 5, 17), now).is_ok());
        assert!(Birthday::parse(day(1899, 12, 31), now).is_err());
        assert!(Birthday::parse(day(2028, 2, 29), now).is_ok(), "today");
        assert!(
            Birthday::parse(day(2028, 3, 1), now).is_err(),
            "tomorrow everywhere"
        );
        // 23:00 UTC on 29 February is already 1 March east of UTC+1.
        let late = Utc.with_ymd_and_hms(2028, 2, 29, 23, 0, 0).unwrap();
        assert!(
            Birthday::parse(day(2028, 3, 1), late).is_ok(),
            "today in Shanghai"
        );
    }
}
