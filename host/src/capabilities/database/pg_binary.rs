//! Postgres' binary wire format for the column types a tool is likely to read.
//!
//! Written by hand: sqlx decodes numeric, dates and UUIDs only behind features that pull in
//! bigdecimal/chrono-sized crates, and these formats are small and fixed by the protocol.

use crate::bindings::corral::tool::database::SqlValue;
use time::{Date, Duration, PrimitiveDateTime, Time};

/// Decodes one non-NULL value of the type named `type_name` (sqlx's upper-case names).
pub(super) fn decode(type_name: &str, bytes: &[u8]) -> SqlValue {
    decode_known(type_name, bytes).unwrap_or_else(|| {
        SqlValue::Text(format!(
            "(a value of type {}: cast it to text in the query, e.g. column::text)",
            type_name.to_lowercase()
        ))
    })
}

fn decode_known(type_name: &str, b: &[u8]) -> Option<SqlValue> {
    Some(match type_name {
        "BOOL" => SqlValue::Boolean(*b.first()? != 0),
        "INT2" => SqlValue::Integer(i16::from_be_bytes(b.try_into().ok()?).into()),
        "INT4" => SqlValue::Integer(i32::from_be_bytes(b.try_into().ok()?).into()),
        "INT8" => SqlValue::Integer(i64::from_be_bytes(b.try_into().ok()?)),
        "OID" => SqlValue::Integer(u32::from_be_bytes(b.try_into().ok()?).into()),
        "FLOAT4" => SqlValue::Real(f32::from_be_bytes(b.try_into().ok()?).into()),
        "FLOAT8" => SqlValue::Real(f64::from_be_bytes(b.try_into().ok()?)),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "UNKNOWN" | "JSON" | "XML" => {
            SqlValue::Text(String::from_utf8_lossy(b).into_owned())
        }
        // jsonb: a version byte (1), then the JSON text.
        "JSONB" => SqlValue::Text(String::from_utf8_lossy(b.get(1..)?).into_owned()),
        "BYTEA" => SqlValue::Blob(b.to_vec()),
        "UUID" => SqlValue::Text(uuid(b)?),
        "NUMERIC" => SqlValue::Text(numeric(b)?),
        "DATE" => SqlValue::Text(date(i32::from_be_bytes(b.try_into().ok()?))?.to_string()),
        "TIMESTAMP" => SqlValue::Text(timestamp(i64::from_be_bytes(b.try_into().ok()?))?),
        "TIMESTAMPTZ" => SqlValue::Text(format!(
            "{}Z",
            timestamp(i64::from_be_bytes(b.try_into().ok()?))?
        )),
        "TIME" => {
            let micros = i64::from_be_bytes(b.try_into().ok()?);
            let t = Time::MIDNIGHT + Duration::microseconds(micros);
            SqlValue::Text(format!(
                "{:02}:{:02}:{:02}{}",
                t.hour(),
                t.minute(),
                t.second(),
                fraction(t.microsecond())
            ))
        }
        _ => return None,
    })
}

/// Days since 2000-01-01.
fn date(days: i32) -> Option<Date> {
    let epoch = Date::from_calendar_date(2000, time::Month::January, 1).ok()?;
    epoch.checked_add(Duration::days(days.into()))
}

/// Microseconds since 2000-01-01 00:00, as `YYYY-MM-DDTHH:MM:SS[.ffffff]`.
fn timestamp(micros: i64) -> Option<String> {
    let epoch = PrimitiveDateTime::new(date(0)?, Time::MIDNIGHT);
    let t = epoch.checked_add(Duration::microseconds(micros))?;
    Some(format!(
        "{}T{:02}:{:02}:{:02}{}",
        t.date(),
        t.hour(),
        t.minute(),
        t.second(),
        fraction(t.microsecond())
    ))
}

fn fraction(micros: u32) -> String {
    if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}").trim_end_matches('0').to_string()
    }
}

fn uuid(b: &[u8]) -> Option<String> {
    let b: [u8; 16] = b.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(b).hyphenated().to_string())
}

/// `numeric`: ndigits, weight, sign, dscale (each i16/u16), then base-10000 digits; the value
/// is `sum(digit[i] * 10000^(weight - i))`, printed with `dscale` decimals.
fn numeric(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let digit = |position: i32| -> u16 {
        // position: the power of 10000 of a group.
        let index = weight - position;
        if index >= 0 {
            digits.get(index as usize).copied().unwrap_or(0)
        } else {
            0
        }
    };
    let mut integer = String::new();
    for position in (0..=weight.max(0)).rev() {
        let group = digit(position);
        if integer.is_empty() {
            if group != 0 || position == 0 {
                integer.push_str(&group.to_string());
            }
        } else {
            integer.push_str(&format!("{group:04}"));
        }
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out.push_str(&integer);
    if dscale > 0 {
        let mut decimals = String::new();
        let mut position = -1;
        while decimals.len() < dscale {
            decimals.push_str(&format!("{:04}", digit(position)));
            position -= 1;
        }
        decimals.truncate(dscale);
        out.push('.');
        out.push_str(&decimals);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_print_like_postgres() {
        assert_eq!(
            numeric(&numeric_bytes(2, 0, 0, 2, &[12, 5000])).unwrap(),
            "12.50"
        );
        assert_eq!(
            numeric(&numeric_bytes(2, 1, 0x4000, 0, &[1, 2345])).unwrap(),
            "-12345"
        );
        assert_eq!(
            numeric(&numeric_bytes(1, -1, 0, 4, &[5])).unwrap(),
            "0.0005"
        );
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(
            numeric(&numeric_bytes(1, 2, 0, 0, &[7])).unwrap(),
            "700000000"
        );
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 0xC000, 0, &[])).unwrap(),
            "NaN"
        );
    }

    #[test]
    fn dates_and_times_count_from_2000() {
        assert_eq!(date(0).unwrap().to_string(), "2000-01-01");
        assert_eq!(date(-1).unwrap().to_string(), "1999-12-31");
        assert_eq!(timestamp(1_500_000).unwrap(), "2000-01-01T00:00:01.5");
        assert_eq!(
            format!(
                "{:?}",
                decode("TIMESTAMPTZ", &86_400_000_000i64.to_be_bytes())
            ),
            format!("{:?}", SqlValue::Text("2000-01-02T00:00:00Z".into()))
        );
    }

    #[test]
    fn unknown_types_say_how_to_read_them() {
        let SqlValue::Text(t) = decode("INTERVAL", &[0; 16]) else {
            panic!()
        };
        assert!(t.contains("::text"));
    }
}
