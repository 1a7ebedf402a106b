//! What a value from a mod may be: one MessagePack value, nested at most
//! as deep as the game allows, with nothing after it.

use serde::Deserialize as _;

/// Checks that `bytes` are one MessagePack value nested at most
/// `max_depth` deep, with nothing after it.
pub fn check(bytes: &[u8], max_depth: usize) -> Result<(), String> {
    let end = skip(bytes, max_depth)?;
    if end != bytes.len() {
        return Err("trailing bytes after the value".into());
    }
    Ok(())
}

/// Checks the MessagePack value at the start of `bytes` and returns where
/// it ends.
pub fn skip(bytes: &[u8], max_depth: usize) -> Result<usize, String> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    de.set_max_depth(max_depth);
    serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| e.to_string())?;
    Ok(de.position() as usize)
}

/// Splits a MessagePack array of `rows` values (a column a mod wrote) into
/// where each value starts, relative to the first, which starts at the
/// returned `body` offset; each value is checked.
pub fn split_array(
    data: &[u8],
    rows: usize,
    max_depth: usize,
) -> Result<(Vec<u32>, usize), String> {
    let mut cursor = std::io::Cursor::new(data);
    let len = rmp::decode::read_array_len(&mut cursor)
        .map_err(|e| format!("not a MessagePack array: {e}"))? as usize;
    if len != rows {
        return Err(format!("{len} values for {rows} rows"));
    }
    let body = cursor.position() as usize;
    let mut offsets = Vec::with_capacity(rows);
    let mut at = body;
    for _ in 0..rows {
        offsets.push((at - body) as u32);
        at += skip(&data[at..], max_depth)?;
    }
    if at != data.len() {
        return Err("trailing bytes after the values".into());
    }
    Ok((offsets, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut v = vec![0x91; depth];
        v.push(0x01);
        v
    }

    #[test]
    fn values_nest_at_most_as_deep_as_allowed() {
        assert!(check(&nested(3), 4).is_ok());
        assert!(check(&nested(5), 4).is_err());
    }

    #[test]
    fn one_value_and_nothing_after_it() {
        assert!(check(&[0x01], 4).is_ok());
        assert_eq!(
            check(&[0x01, 0x02], 4),
            Err("trailing bytes after the value".into())
        );
        assert!(check(&[0x92, 0x01], 4).is_err(), "cut short");
        assert!(check(&[0xc1], 4).is_err(), "reserved byte");
    }

    #[test]
    fn a_column_has_one_checked_value_per_row() {
        assert_eq!(
            split_array(&[0x92, 0x01, 0xa1, b'x'], 2, 4),
            Ok((vec![0, 1], 1))
        );
        assert_eq!(
            split_array(&[0x92, 0x01, 0x02], 3, 4),
            Err("2 values for 3 rows".into())
        );
        assert!(split_array(&[0x91, 0x01, 0x02], 1, 4).is_err());
    }
}
