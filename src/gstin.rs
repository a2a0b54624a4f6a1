//! GSTIN structure and the mod-36 check character (reference 2.2).

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// The check character for the first 14 characters, or `None` if one is not `[0-9A-Z]`.
pub fn check_char(first14: &[u8]) -> Option<u8> {
    if first14.len() != 14 {
        return None;
    }
    let mut sum = 0u32;
    for (idx, &c) in first14.iter().enumerate() {
        let factor = if idx % 2 == 0 { 1 } else { 2 };
        let product = char_value(c)? * factor;
        sum += product / 36 + product % 36;
    }
    let check = (36 - sum % 36) % 36;
    ALPHABET.get(check as usize).copied()
}

/// True when a 15-character GSTIN carries the right check character.
pub fn checksum_ok(gstin: &str) -> bool {
    let bytes = gstin.as_bytes();
    bytes.len() == 15 && check_char(&bytes[..14]) == Some(bytes[14])
}

/// The schema's GSTIN shape: two digits then 13 of `[0-9A-Z]`.
pub fn shape_ok(gstin: &str) -> bool {
    let b = gstin.as_bytes();
    b.len() == 15
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// The state-code prefix of a GSTIN (its first two characters).
pub fn state_prefix(gstin: &str) -> &str {
    gstin.get(..2).unwrap_or("")
}

/// A TCS (e-commerce operator) GSTIN: `C` in position 14 (reference 2.2, error 2195).
pub fn is_tcs(gstin: &str) -> bool {
    let b = gstin.as_bytes();
    b.len() == 15
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..7].iter().all(u8::is_ascii_uppercase)
        && b[7..11].iter().all(u8::is_ascii_digit)
        && b[11].is_ascii_uppercase()
        && (b[12].is_ascii_uppercase() || (b'1'..=b'9').contains(&b[12]))
        && b[13] == b'C'
}

/// Completes a 14-character prefix with its check character (the generator uses it).
pub fn with_check(first14: &str) -> Option<String> {
    let c = check_char(first14.as_bytes())?;
    let mut s = String::with_capacity(15);
    s.push_str(first14);
    s.push(char::from(c));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_examples() {
        assert_eq!(with_check("27AAPFU0939F1Z").unwrap(), "27AAPFU0939F1ZV");
        for g in [
            "29AAFCC9980M1ZR",
            "24AAACJ3770E2ZV",
            "07AAACR5055K1Z9",
            "33AAACI4798L1Z5",
            "27AABCU9603R1ZN",
            "19AACCH1234D1Z2",
        ] {
            assert!(checksum_ok(g), "{g}");
        }
        for g in ["02AMBPG7773M002", "36AMBPG7773M002", "29AWGPV7107B1Z1"] {
            assert!(!checksum_ok(g), "{g}");
            assert!(shape_ok(g));
        }
    }

    #[test]
    fn tcs() {
        assert!(is_tcs("29AABCF8078M1C0"));
        assert!(!is_tcs("29AAFCC9980M1ZR"));
    }
}
