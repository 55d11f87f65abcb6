//! The ship and cargo type of a static report (types 5 and 24B) in words, by ITU-R M.1371-5
//! Table 53: people read "cargo", not 70. The first digit is the kind of ship; for wing-in-ground,
//! high-speed craft, passenger, cargo, tanker and other ships the second digit is the hazard
//! category of the cargo (1–4: A–D; 9: no additional information).

/// `code` in words: the kind, and for the kinds that carry one, the hazard category
/// (`"cargo, hazardous category A"`). Codes the standard reserves or does not define say so.
pub fn ship_type_words(code: u8) -> String {
    let kind = match code / 10 {
        2 => "wing in ground",
        4 => "high-speed craft",
        6 => "passenger",
        7 => "cargo",
        8 => "tanker",
        9 => "other",
        _ => return special(code).to_string(),
    };
    match code % 10 {
        0 => kind.to_string(),
        1 => format!("{kind}, hazardous category A"),
        2 => format!("{kind}, hazardous category B"),
        3 => format!("{kind}, hazardous category C"),
        4 => format!("{kind}, hazardous category D"),
        9 => format!("{kind}, no additional information"),
        _ => format!("{kind}, reserved"),
    }
}

/// The codes outside the kinds with a hazard digit.
fn special(code: u8) -> &'static str {
    match code {
        0 => "not available",
        1..=19 => "reserved",
        30 => "fishing",
        31 => "towing",
        32 => "towing, over 200 m long or 25 m wide",
        33 => "dredging or underwater operations",
        34 => "diving operations",
        35 => "military operations",
        36 => "sailing",
        37 => "pleasure craft",
        38 | 39 => "reserved",
        50 => "pilot vessel",
        51 => "search and rescue",
        52 => "tug",
        53 => "port tender",
        54 => "anti-pollution",
        55 => "law enforcement",
        56 | 57 => "local vessel",
        58 => "medical transport",
        59 => "non-combatant (RR Resolution No. 18)",
        100..=199 => "reserved for regional use",
        _ => "reserved",
    }
}

#[cfg(test)]
mod tests {
    use super::ship_type_words;

    #[test]
    fn kinds_and_hazard_digits() {
        for (code, words) in [
            (0, "not available"),
            (30, "fishing"),
            (52, "tug"),
            (70, "cargo"),
            (71, "cargo, hazardous category A"),
            (74, "cargo, hazardous category D"),
            (75, "cargo, reserved"),
            (79, "cargo, no additional information"),
            (89, "tanker, no additional information"),
            (99, "other, no additional information"),
            (150, "reserved for regional use"),
            (255, "reserved"),
        ] {
            assert_eq!(ship_type_words(code), words, "{code}");
        }
    }
}
