//! Durations as people type them: `7d`, `12h`, `30m`, `90s`, `500ms`, `1h30m`.

use std::time::Duration;

/// Parse a duration of one or more `<number><unit>` parts (units `ms`, `s`, `m`, `h`, `d`, `w`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: use a number and a unit, such as 7d, 12h, 30m, 90s or 1h30m");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => {
                total = total.checked_add(Duration::from_millis(n)).ok_or_else(bad)?;
                rest = &rest[unit_len..];
                continue;
            }
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        let part = n.checked_mul(seconds).map(Duration::from_secs).ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parse a rate `N/PERIOD`: `200/s`, `1000/1m`, `5/10s`.
pub fn parse_rate(text: &str) -> Result<drover_core::Rate, String> {
    let bad = || format!("`{text}` is not a rate: use starts/period, such as 200/s, 1000/1m or 5/10s");
    let (n, per) = text.trim().split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let per = per.trim();
    let per = if per.starts_with(|c: char| c.is_ascii_digit()) { parse(per)? } else { parse(&format!("1{per}"))? };
    if n == 0 || per.is_zero() {
        return Err(bad());
    }
    Ok(drover_core::Rate::new(n, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("200/s"), Ok(drover_core::Rate::new(200, Duration::from_secs(1))));
        assert_eq!(parse_rate("5/10s"), Ok(drover_core::Rate::new(5, Duration::from_secs(10))));
        assert_eq!(parse_rate("1000/1m"), Ok(drover_core::Rate::new(1000, Duration::from_secs(60))));
        for bad in ["200", "0/s", "x/s", "200/", "200/0s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "7", "d", "7 days", "1.5h", "-3s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
