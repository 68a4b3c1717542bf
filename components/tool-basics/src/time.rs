//! `time.now`: the current time as RFC 3339, with an optional fixed offset.
//!
//! The calendar arithmetic is done here (proleptic Gregorian calendar, the
//! one RFC 3339 uses) so the component needs no date crate.

use serde::Deserialize;
use serde_json::json;

/// Largest offset RFC 3339 can write (`±23:59`).
pub const MAX_OFFSET_MINUTES: i32 = 23 * 60 + 59;

/// Arguments of `time.now`.
#[derive(Debug, Default, Deserialize)]
pub struct NowArgs {
    /// Minutes to add to UTC for the local time (120 for UTC+2).
    #[serde(default)]
    pub offset_minutes: Option<i32>,
}

/// A calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// 0 = Sunday ... 6 = Saturday.
    pub weekday: u32,
}

const DAYS_PER_400_YEARS: i64 = 146_097;
const MS_PER_DAY: i64 = 86_400_000;

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn month_lengths(year: i64) -> [u32; 12] {
    let feb = if is_leap(year) { 29 } else { 28 };
    [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
}

/// The date `days` days after 1970-01-01 (negative: before it).
pub fn date_from_days(days: i64) -> (i64, u32, u32) {
    // Every run of 400 consecutive years holds exactly 97 leap years, so the
    // calendar repeats every 146097 days counted from any year, 1970 too.
    let mut year = 1970 + days.div_euclid(DAYS_PER_400_YEARS) * 400;
    let mut left = days.rem_euclid(DAYS_PER_400_YEARS);
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if left < len {
            break;
        }
        left -= len;
        year += 1;
    }
    let mut month = 1;
    for len in month_lengths(year) {
        let len = i64::from(len);
        if left < len {
            break;
        }
        left -= len;
        month += 1;
    }
    (year, month, left as u32 + 1)
}

/// Splits milliseconds since the Unix epoch into calendar fields.
pub fn civil_from_unix_ms(ms: i64) -> Civil {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = date_from_days(days);
    let secs = in_day / 1000;
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs / 60 % 60) as u32,
        second: (secs % 60) as u32,
        millis: (in_day % 1000) as u32,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// `ms` since the epoch as RFC 3339 with millisecond precision, shown at a
/// fixed offset from UTC (`Z` for 0).
pub fn rfc3339(ms: i64, offset_minutes: i32) -> String {
    let c = civil_from_unix_ms(ms + i64::from(offset_minutes) * 60_000);
    let zone = if offset_minutes == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let abs = offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 60, abs % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The answer of `time.now` for the instant `now_ms`.
pub fn now(now_ms: u64, args: &NowArgs) -> Result<serde_json::Value, String> {
    let offset = args.offset_minutes.unwrap_or(0);
    if offset.abs() > MAX_OFFSET_MINUTES {
        return Err(format!(
            "argument `offset_minutes`: {offset} is outside -{MAX_OFFSET_MINUTES}..={MAX_OFFSET_MINUTES}"
        ));
    }
    let ms = i64::try_from(now_ms).map_err(|_| "the host clock is out of range".to_string())?;
    let local = civil_from_unix_ms(ms + i64::from(offset) * 60_000);
    Ok(json!({
        "rfc3339": rfc3339(ms, offset),
        "utc": rfc3339(ms, 0),
        "unix_ms": now_ms,
        "offset_minutes": offset,
        "weekday": WEEKDAYS[local.weekday as usize],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1700000000`
        assert_eq!(rfc3339(1_700_000_000_000, 0), "2023-11-14T22:13:20.000Z");
        // 2000 is a leap year (divisible by 400).
        assert_eq!(rfc3339(951_782_400_000, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(951_868_799_999, 0), "2000-02-29T23:59:59.999Z");
        // 2100 is not (divisible by 100, not 400): Feb 28 is followed by Mar 1.
        assert_eq!(rfc3339(4_107_456_000_000, 0), "2100-02-28T00:00:00.000Z");
        assert_eq!(rfc3339(4_107_542_400_000, 0), "2100-03-01T00:00:00.000Z");
        // Largest 32-bit time_t.
        assert_eq!(rfc3339(2_147_483_647_000, 0), "2038-01-19T03:14:07.000Z");
        assert_eq!(rfc3339(1_234_567_890_123, 0), "2009-02-13T23:31:30.123Z");
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(-86_400_000, 0), "1969-12-31T00:00:00.000Z");
        // The first day of the Gregorian calendar.
        assert_eq!(rfc3339(-12_219_292_800_000, 0), "1582-10-15T00:00:00.000Z");
    }

    #[test]
    fn offsets_shift_the_wall_clock() {
        assert_eq!(
            rfc3339(1_700_000_000_000, 120),
            "2023-11-15T00:13:20.000+02:00"
        );
        assert_eq!(
            rfc3339(1_700_000_000_000, -330),
            "2023-11-14T16:43:20.000-05:30"
        );
        assert_eq!(rfc3339(0, -60), "1969-12-31T23:00:00.000-01:00");
    }

    #[test]
    fn weekdays() {
        assert_eq!(civil_from_unix_ms(0).weekday, 4); // Thursday
        assert_eq!(civil_from_unix_ms(1_700_000_000_000).weekday, 2); // Tuesday
        assert_eq!(civil_from_unix_ms(-1).weekday, 3); // Wednesday
    }

    #[test]
    fn every_day_round_trips_through_the_calendar() {
        // Walk 800 years day by day from 1800 and check dates advance by one.
        let start = -62_091; // 1800-01-01
        assert_eq!(date_from_days(start), (1800, 1, 1));
        let mut prev = date_from_days(start);
        for days in start + 1..start + 800 * 366 {
            let (y, m, d) = date_from_days(days);
            let (py, pm, pd) = prev;
            let next_ok = (y == py && m == pm && d == pd + 1)
                || (y == py && m == pm + 1 && d == 1 && pd == month_lengths(py)[pm as usize - 1])
                || (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
            assert!(next_ok, "{prev:?} -> {:?}", (y, m, d));
            prev = (y, m, d);
        }
    }

    #[test]
    fn now_reports_both_zones() {
        let v = now(
            1_700_000_000_000,
            &NowArgs {
                offset_minutes: Some(60),
            },
        )
        .unwrap();
        assert_eq!(v["rfc3339"], "2023-11-14T23:13:20.000+01:00");
        assert_eq!(v["utc"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["unix_ms"], 1_700_000_000_000u64);
        assert_eq!(v["weekday"], "Tuesday");
        let err = now(
            0,
            &NowArgs {
                offset_minutes: Some(1440),
            },
        )
        .unwrap_err();
        assert!(err.contains("offset_minutes"), "{err}");
    }
}
