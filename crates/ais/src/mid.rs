//! The flag of a vessel from its MMSI: the Maritime Identification Digits (MID) that the ITU
//! allocates to each administration (ITU Radio Regulations Appendix 42 and the MARS table of MIDs),
//! and where they sit in each form of MMSI (Recommendation ITU-R M.585-9, Annex 1).
//!
//! People read "Liberia", not 636: the MID is the administration under whose jurisdiction the
//! station's licence was issued, which for a ship is its flag. Owns the table and the MMSI forms;
//! never guesses: an MMSI without a MID (a SART, an EPIRB, a malformed number) or with a MID the ITU
//! has not allocated has no flag.
//!
//! The names are the ITU's, shortened to what a table shows ("Korea (Republic of)", "Türkiye");
//! a geographical area with its own MID (the Azores, Alaska) is named with its administration in
//! brackets. The codes are ISO 3166-1 alpha-2: the area's own code where ISO gives it one (Puerto
//! Rico PR, Reunion RE), else the administration's (Azores PT, Alaska US). MID 306 is shared by
//! Bonaire, Sint Eustatius and Saba, Curaçao and Sint Maarten, so it carries the Kingdom of the
//! Netherlands' NL rather than one of their three codes.

/// What an MID stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The three digits, 201–775: kept so that a caller can show the number the name came from.
    pub mid: u16,
    /// The country or geographical area, in English, as people read it.
    pub country: &'static str,
    /// Its ISO 3166-1 alpha-2 code (upper case): for maps, flags and joins with other data.
    pub code: &'static str,
}

/// The ITU's allocated MIDs, sorted by MID so that a lookup is a binary search.
#[rustfmt::skip]
const MIDS: &[(u16, &str, &str)] = &[
    (201, "Albania", "AL"),
    (202, "Andorra", "AD"),
    (203, "Austria", "AT"),
    (204, "Azores (Portugal)", "PT"),
    (205, "Belgium", "BE"),
    (206, "Belarus", "BY"),
    (207, "Bulgaria", "BG"),
    (208, "Vatican City State", "VA"),
    (209, "Cyprus", "CY"),
    (210, "Cyprus", "CY"),
    (211, "Germany", "DE"),
    (212, "Cyprus", "CY"),
    (213, "Georgia", "GE"),
    (214, "Moldova", "MD"),
    (215, "Malta", "MT"),
    (216, "Armenia", "AM"),
    (218, "Germany", "DE"),
    (219, "Denmark", "DK"),
    (220, "Denmark", "DK"),
    (224, "Spain", "ES"),
    (225, "Spain", "ES"),
    (226, "France", "FR"),
    (227, "France", "FR"),
    (228, "France", "FR"),
    (229, "Malta", "MT"),
    (230, "Finland", "FI"),
    (231, "Faroe Islands", "FO"),
    (232, "United Kingdom", "GB"),
    (233, "United Kingdom", "GB"),
    (234, "United Kingdom", "GB"),
    (235, "United Kingdom", "GB"),
    (236, "Gibraltar", "GI"),
    (237, "Greece", "GR"),
    (238, "Croatia", "HR"),
    (239, "Greece", "GR"),
    (240, "Greece", "GR"),
    (241, "Greece", "GR"),
    (242, "Morocco", "MA"),
    (243, "Hungary", "HU"),
    (244, "Netherlands", "NL"),
    (245, "Netherlands", "NL"),
    (246, "Netherlands", "NL"),
    (247, "Italy", "IT"),
    (248, "Malta", "MT"),
    (249, "Malta", "MT"),
    (250, "Ireland", "IE"),
    (251, "Iceland", "IS"),
    (252, "Liechtenstein", "LI"),
    (253, "Luxembourg", "LU"),
    (254, "Monaco", "MC"),
    (255, "Madeira (Portugal)", "PT"),
    (256, "Malta", "MT"),
    (257, "Norway", "NO"),
    (258, "Norway", "NO"),
    (259, "Norway", "NO"),
    (261, "Poland", "PL"),
    (262, "Montenegro", "ME"),
    (263, "Portugal", "PT"),
    (264, "Romania", "RO"),
    (265, "Sweden", "SE"),
    (266, "Sweden", "SE"),
    (267, "Slovakia", "SK"),
    (268, "San Marino", "SM"),
    (269, "Switzerland", "CH"),
    (270, "Czech Republic", "CZ"),
    (271, "Türkiye", "TR"),
    (272, "Ukraine", "UA"),
    (273, "Russian Federation", "RU"),
    (274, "North Macedonia", "MK"),
    (275, "Latvia", "LV"),
    (276, "Estonia", "EE"),
    (277, "Lithuania", "LT"),
    (278, "Slovenia", "SI"),
    (279, "Serbia", "RS"),
    (301, "Anguilla", "AI"),
    (303, "Alaska (United States)", "US"),
    (304, "Antigua and Barbuda", "AG"),
    (305, "Antigua and Barbuda", "AG"),
    (306, "Bonaire, Sint Eustatius and Saba, Curaçao, Sint Maarten (Netherlands)", "NL"),
    (307, "Aruba", "AW"),
    (308, "Bahamas", "BS"),
    (309, "Bahamas", "BS"),
    (310, "Bermuda", "BM"),
    (311, "Bahamas", "BS"),
    (312, "Belize", "BZ"),
    (314, "Barbados", "BB"),
    (316, "Canada", "CA"),
    (319, "Cayman Islands", "KY"),
    (321, "Costa Rica", "CR"),
    (323, "Cuba", "CU"),
    (325, "Dominica", "DM"),
    (327, "Dominican Republic", "DO"),
    (329, "Guadeloupe (France)", "GP"),
    (330, "Grenada", "GD"),
    (331, "Greenland", "GL"),
    (332, "Guatemala", "GT"),
    (334, "Honduras", "HN"),
    (336, "Haiti", "HT"),
    (338, "United States", "US"),
    (339, "Jamaica", "JM"),
    (341, "Saint Kitts and Nevis", "KN"),
    (343, "Saint Lucia", "LC"),
    (345, "Mexico", "MX"),
    (347, "Martinique (France)", "MQ"),
    (348, "Montserrat", "MS"),
    (350, "Nicaragua", "NI"),
    (351, "Panama", "PA"),
    (352, "Panama", "PA"),
    (353, "Panama", "PA"),
    (354, "Panama", "PA"),
    (355, "Panama", "PA"),
    (356, "Panama", "PA"),
    (357, "Panama", "PA"),
    (358, "Puerto Rico", "PR"),
    (359, "El Salvador", "SV"),
    (361, "Saint Pierre and Miquelon (France)", "PM"),
    (362, "Trinidad and Tobago", "TT"),
    (364, "Turks and Caicos Islands", "TC"),
    (366, "United States", "US"),
    (367, "United States", "US"),
    (368, "United States", "US"),
    (369, "United States", "US"),
    (370, "Panama", "PA"),
    (371, "Panama", "PA"),
    (372, "Panama", "PA"),
    (373, "Panama", "PA"),
    (374, "Panama", "PA"),
    (375, "Saint Vincent and the Grenadines", "VC"),
    (376, "Saint Vincent and the Grenadines", "VC"),
    (377, "Saint Vincent and the Grenadines", "VC"),
    (378, "British Virgin Islands", "VG"),
    (379, "United States Virgin Islands", "VI"),
    (401, "Afghanistan", "AF"),
    (403, "Saudi Arabia", "SA"),
    (405, "Bangladesh", "BD"),
    (408, "Bahrain", "BH"),
    (410, "Bhutan", "BT"),
    (412, "China", "CN"),
    (413, "China", "CN"),
    (414, "China", "CN"),
    (416, "Taiwan", "TW"),
    (417, "Sri Lanka", "LK"),
    (419, "India", "IN"),
    (422, "Iran", "IR"),
    (423, "Azerbaijan", "AZ"),
    (425, "Iraq", "IQ"),
    (428, "Israel", "IL"),
    (431, "Japan", "JP"),
    (432, "Japan", "JP"),
    (434, "Turkmenistan", "TM"),
    (436, "Kazakhstan", "KZ"),
    (437, "Uzbekistan", "UZ"),
    (438, "Jordan", "JO"),
    (440, "Korea (Republic of)", "KR"),
    (441, "Korea (Republic of)", "KR"),
    (443, "Palestine", "PS"),
    (445, "Korea (Democratic People's Republic of)", "KP"),
    (447, "Kuwait", "KW"),
    (450, "Lebanon", "LB"),
    (451, "Kyrgyzstan", "KG"),
    (453, "Macao", "MO"),
    (455, "Maldives", "MV"),
    (457, "Mongolia", "MN"),
    (459, "Nepal", "NP"),
    (461, "Oman", "OM"),
    (463, "Pakistan", "PK"),
    (466, "Qatar", "QA"),
    (468, "Syrian Arab Republic", "SY"),
    (470, "United Arab Emirates", "AE"),
    (471, "United Arab Emirates", "AE"),
    (472, "Tajikistan", "TJ"),
    (473, "Yemen", "YE"),
    (475, "Yemen", "YE"),
    (477, "Hong Kong", "HK"),
    (478, "Bosnia and Herzegovina", "BA"),
    (501, "Adélie Land (France)", "TF"),
    (503, "Australia", "AU"),
    (506, "Myanmar", "MM"),
    (508, "Brunei Darussalam", "BN"),
    (510, "Micronesia", "FM"),
    (511, "Palau", "PW"),
    (512, "New Zealand", "NZ"),
    (514, "Cambodia", "KH"),
    (515, "Cambodia", "KH"),
    (516, "Christmas Island (Australia)", "CX"),
    (518, "Cook Islands", "CK"),
    (520, "Fiji", "FJ"),
    (523, "Cocos (Keeling) Islands (Australia)", "CC"),
    (525, "Indonesia", "ID"),
    (529, "Kiribati", "KI"),
    (531, "Lao People's Democratic Republic", "LA"),
    (533, "Malaysia", "MY"),
    (536, "Northern Mariana Islands (United States)", "MP"),
    (538, "Marshall Islands", "MH"),
    (540, "New Caledonia (France)", "NC"),
    (542, "Niue", "NU"),
    (544, "Nauru", "NR"),
    (546, "French Polynesia (France)", "PF"),
    (548, "Philippines", "PH"),
    (550, "Timor-Leste", "TL"),
    (553, "Papua New Guinea", "PG"),
    (555, "Pitcairn Island (United Kingdom)", "PN"),
    (557, "Solomon Islands", "SB"),
    (559, "American Samoa (United States)", "AS"),
    (561, "Samoa", "WS"),
    (563, "Singapore", "SG"),
    (564, "Singapore", "SG"),
    (565, "Singapore", "SG"),
    (566, "Singapore", "SG"),
    (567, "Thailand", "TH"),
    (570, "Tonga", "TO"),
    (572, "Tuvalu", "TV"),
    (574, "Viet Nam", "VN"),
    (576, "Vanuatu", "VU"),
    (577, "Vanuatu", "VU"),
    (578, "Wallis and Futuna (France)", "WF"),
    (601, "South Africa", "ZA"),
    (603, "Angola", "AO"),
    (605, "Algeria", "DZ"),
    (607, "Saint Paul and Amsterdam Islands (France)", "TF"),
    (608, "Ascension Island (United Kingdom)", "SH"),
    (609, "Burundi", "BI"),
    (610, "Benin", "BJ"),
    (611, "Botswana", "BW"),
    (612, "Central African Republic", "CF"),
    (613, "Cameroon", "CM"),
    (615, "Congo", "CG"),
    (616, "Comoros", "KM"),
    (617, "Cabo Verde", "CV"),
    (618, "Crozet Archipelago (France)", "TF"),
    (619, "Côte d'Ivoire", "CI"),
    (620, "Comoros", "KM"),
    (621, "Djibouti", "DJ"),
    (622, "Egypt", "EG"),
    (624, "Ethiopia", "ET"),
    (625, "Eritrea", "ER"),
    (626, "Gabon", "GA"),
    (627, "Ghana", "GH"),
    (629, "Gambia", "GM"),
    (630, "Guinea-Bissau", "GW"),
    (631, "Equatorial Guinea", "GQ"),
    (632, "Guinea", "GN"),
    (633, "Burkina Faso", "BF"),
    (634, "Kenya", "KE"),
    (635, "Kerguelen Islands (France)", "TF"),
    (636, "Liberia", "LR"),
    (637, "Liberia", "LR"),
    (638, "South Sudan", "SS"),
    (642, "Libya", "LY"),
    (644, "Lesotho", "LS"),
    (645, "Mauritius", "MU"),
    (647, "Madagascar", "MG"),
    (649, "Mali", "ML"),
    (650, "Mozambique", "MZ"),
    (654, "Mauritania", "MR"),
    (655, "Malawi", "MW"),
    (656, "Niger", "NE"),
    (657, "Nigeria", "NG"),
    (659, "Namibia", "NA"),
    (660, "Reunion (France)", "RE"),
    (661, "Rwanda", "RW"),
    (662, "Sudan", "SD"),
    (663, "Senegal", "SN"),
    (664, "Seychelles", "SC"),
    (665, "Saint Helena (United Kingdom)", "SH"),
    (666, "Somalia", "SO"),
    (667, "Sierra Leone", "SL"),
    (668, "Sao Tome and Principe", "ST"),
    (669, "Eswatini", "SZ"),
    (670, "Chad", "TD"),
    (671, "Togo", "TG"),
    (672, "Tunisia", "TN"),
    (674, "Tanzania", "TZ"),
    (675, "Uganda", "UG"),
    (676, "Democratic Republic of the Congo", "CD"),
    (677, "Tanzania", "TZ"),
    (678, "Zambia", "ZM"),
    (679, "Zimbabwe", "ZW"),
    (701, "Argentina", "AR"),
    (710, "Brazil", "BR"),
    (720, "Bolivia", "BO"),
    (725, "Chile", "CL"),
    (730, "Colombia", "CO"),
    (735, "Ecuador", "EC"),
    (740, "Falkland Islands (United Kingdom)", "FK"),
    (745, "French Guiana (France)", "GF"),
    (750, "Guyana", "GY"),
    (755, "Paraguay", "PY"),
    (760, "Peru", "PE"),
    (765, "Suriname", "SR"),
    (770, "Uruguay", "UY"),
    (775, "Venezuela", "VE"),
];

/// The MID an MMSI carries, by its form (ITU-R M.585-9 Annex 1), whether or not it is allocated:
///
/// - `MIDXXXXXX` a ship station (first digit 2–7);
/// - `0MIDXXXXX` a group of ship stations; `00MIDXXXX` a coast station;
/// - `111MIDXXX` a search-and-rescue aircraft;
/// - `8MIDXXXXX` a handheld VHF transceiver with DSC and GNSS;
/// - `98MIDXXXX` a craft associated with a parent ship (a lifeboat, a tender);
/// - `99MIDXXXX` an aid to navigation.
///
/// Every other form has no MID: `970`/`972`/`974` (AIS-SART, MOB and EPIRB-AIS, numbered by
/// manufacturer), other `1`s and `9`s, and numbers of ten digits or more.
pub fn mid_of(mmsi: u32) -> Option<u16> {
    if mmsi > 999_999_999 {
        return None;
    }
    // The nine digits, leading zeros included, as one number each way it can be cut.
    let digit = |i: u32| (mmsi / 10u32.pow(8 - i)) % 10; // i = 0 is the first of nine
    let three = |from: u32| -> u16 {
        // Three digits from position `from`; at most 999, so the cast is exact.
        ((mmsi / 10u32.pow(6 - from)) % 1000) as u16
    };
    let mid = match (digit(0), digit(1), digit(2)) {
        (2..=7, _, _) => three(0),
        (0, 0, _) => three(2),
        (0, 2..=7, _) => three(1),
        (1, 1, 1) => three(3),
        (8, _, _) => three(1),
        (9, 8 | 9, _) => three(2),
        _ => return None,
    };
    // An MID starts with 2–7 wherever it sits.
    (200..800).contains(&mid).then_some(mid)
}

/// What the MID `mid` stands for, if the ITU has allocated it.
pub fn flag_of_mid(mid: u16) -> Option<Flag> {
    MIDS.binary_search_by_key(&mid, |&(m, _, _)| m)
        .ok()
        .and_then(|i| MIDS.get(i))
        .map(|&(mid, country, code)| Flag { mid, country, code })
}

/// The flag of the station with this MMSI: its MID ([`mid_of`]) looked up in the ITU's table.
pub fn flag(mmsi: u32) -> Option<Flag> {
    mid_of(mmsi).and_then(flag_of_mid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is sorted with no MID twice (a binary search needs it), every MID is 201–775,
    /// and every code is two upper-case letters.
    #[test]
    fn the_table_is_sorted_and_well_formed() {
        assert!(MIDS.windows(2).all(|w| w[0].0 < w[1].0));
        for &(mid, country, code) in MIDS {
            assert!((201..=775).contains(&mid), "{mid}");
            assert!(!country.is_empty(), "{mid}");
            assert!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{mid} {code}"
            );
        }
    }

    /// Allocations as the ITU's table of MIDs lists them.
    #[test]
    fn known_allocations_from_the_itu_table() {
        let cases: &[(u16, &str, &str)] = &[
            (273, "Russian Federation", "RU"),
            (211, "Germany", "DE"),
            (218, "Germany", "DE"),
            (636, "Liberia", "LR"),
            (637, "Liberia", "LR"),
            (538, "Marshall Islands", "MH"),
            (613, "Cameroon", "CM"),
            (440, "Korea (Republic of)", "KR"),
            (441, "Korea (Republic of)", "KR"),
            (468, "Syrian Arab Republic", "SY"),
            (201, "Albania", "AL"),
            (775, "Venezuela", "VE"),
        ];
        for &(mid, country, code) in cases {
            assert_eq!(flag_of_mid(mid), Some(Flag { mid, country, code }), "{mid}");
        }
        for mid in (351..=357).chain(370..=373) {
            assert_eq!(flag_of_mid(mid).map(|f| f.code), Some("PA"), "{mid}");
        }
        // Not allocated: between blocks, and the ends of the range.
        for mid in [200, 217, 221, 260, 280, 300, 400, 776, 799] {
            assert_eq!(flag_of_mid(mid), None, "{mid}");
        }
    }

    /// Each MMSI form of ITU-R M.585-9 Annex 1 gives its MID, and the forms without one give none.
    #[test]
    fn every_mmsi_form_gives_its_mid() {
        let cases: &[(u32, Option<u16>)] = &[
            (273_000_201, Some(273)), // ship
            (636_012_345, Some(636)), // ship
            (21_112_345, Some(211)),  // 0MID group of ships (021112345)
            (2_730_001, Some(273)),   // 00MID coast station (002730001)
            (111_273_001, Some(273)), // SAR aircraft
            (827_312_345, Some(273)), // handheld
            (982_731_234, Some(273)), // craft of a parent ship
            (992_731_234, Some(273)), // aid to navigation
            (970_012_345, None),      // AIS-SART
            (972_012_345, None),      // MOB
            (974_012_345, None),      // EPIRB-AIS
            (123_456_789, None),      // 1 but not 111
            (0, None),
            (1_000_000_000, None), // ten digits
            (99_123_456, None),    // 099123456: 0 then 9 is no form
        ];
        for &(mmsi, mid) in cases {
            assert_eq!(mid_of(mmsi), mid, "{mmsi:09}");
        }
        assert_eq!(
            flag(992_731_234).map(|f| f.country),
            Some("Russian Federation")
        );
        assert_eq!(flag(538_007_000).map(|f| f.code), Some("MH"));
        // A well-formed MMSI whose MID is not allocated has no flag.
        assert_eq!(flag(217_000_000), None);
    }
}
