//! The two root slots and which one is running (`paddock.slot=a|b` on the
//! kernel command line, written into each slot's loader entry).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn letter(self) -> char {
        match self {
            Slot::A => 'a',
            Slot::B => 'b',
        }
    }

    pub fn from_letter(c: char) -> Option<Slot> {
        match c {
            'a' => Some(Slot::A),
            'b' => Some(Slot::B),
            _ => None,
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// The GPT partition name of the slot's root.
    pub fn partname(self) -> &'static str {
        match self {
            Slot::A => "root-a",
            Slot::B => "root-b",
        }
    }

    /// `paddock.slot=X` from a kernel command line.
    pub fn from_cmdline(cmdline: &str) -> Option<Slot> {
        cmdline
            .split_whitespace()
            .rev()
            .find_map(|w| w.strip_prefix("paddock.slot="))
            .and_then(|v| {
                let mut c = v.chars();
                match (c.next(), c.next()) {
                    (Some(l), None) => Slot::from_letter(l),
                    _ => None,
                }
            })
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut c = s.chars();
        match (c.next(), c.next()) {
            (Some(l), None) => Slot::from_letter(l),
            _ => None,
        }
        .ok_or_else(|| serde::de::Error::custom(format!("slot {s:?}: expected \"a\" or \"b\"")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_its_letter() {
        for slot in [Slot::A, Slot::B] {
            assert_eq!(crate::round_trip(&slot), format!("\"{slot}\""));
        }
        assert!(serde_json::from_str::<Slot>("\"c\"").is_err());
        assert!(serde_json::from_str::<Slot>("\"ab\"").is_err());
    }

    #[test]
    fn cmdline() {
        assert_eq!(
            Slot::from_cmdline("root=PARTUUID=x paddock.slot=b console=ttyS0\n"),
            Some(Slot::B)
        );
        assert_eq!(Slot::from_cmdline("paddock.slot=ab"), None);
        assert_eq!(Slot::from_cmdline("quiet"), None);
        assert_eq!(Slot::A.other(), Slot::B);
        assert_eq!(Slot::B.partname(), "root-b");
    }
}
