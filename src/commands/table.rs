//! Tables for people: the default output of the query commands and of `alerts`, laid out by
//! comfy-table.
//!
//! Owns how rows of text become aligned columns that fit the width they are shown in: which values
//! may wrap (names, notes) and which never may (MMSIs, times, ids, numbers), and the narrower layouts
//! a table falls back to when its wide one cannot fit. It never decides what a row says: commands
//! hand over strings, and never cuts a value: a value that does not fit wraps or the line grows.

use comfy_table::{ColumnConstraint, ContentArrangement, Width, presets};

/// How a value may be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Never wrapped or cut: MMSIs, times, ids, numbers and one-word values such as a kind or a
    /// fence name. A wrapped MMSI or time is misread or mis-copied, so these keep their width and
    /// the free text around them gives way.
    Whole,
    /// Free text (names, notes): wraps at spaces when the table is narrower than its content. Its
    /// column is kept as wide as its longest word, so a word is split only when even the narrowest
    /// layout cannot give it that.
    Text,
}

/// One named value of every row: its header and how it may be laid out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The header, which layouts also use to name the field.
    pub name: &'static str,
    /// Whether it may wrap.
    pub fit: Fit,
}

/// A layout: the columns left to right, each naming the fields it shows top to bottom. A field
/// that a layout leaves out is not shown in it. Stacking two fields in one column (an arrival over
/// its departure) is how a table keeps every time whole in 80 columns.
pub(crate) type Layout = &'static [&'static [&'static str]];

/// Spaces between columns: the padding either side of a column's content, none at the edges.
const PAD: u16 = 1;

/// Rows of text under named fields, with the layouts they may be shown in, widest first.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    fields: &'static [Field],
    layouts: &'static [Layout],
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table. `layouts` go from the widest (every field in its own column: what a pipe
    /// gets, since nothing there wraps) to the narrowest, the one made to fit 80 columns.
    pub(crate) fn new(fields: &'static [Field], layouts: &'static [Layout]) -> Self {
        assert!(!layouts.is_empty(), "a table has at least one layout");
        Table {
            fields,
            layouts,
            rows: Vec::new(),
        }
    }

    /// Adds a row: one value per field, in the order of the fields.
    pub(crate) fn push(&mut self, row: Vec<String>) {
        assert_eq!(row.len(), self.fields.len(), "one value per field");
        self.rows.push(row);
    }

    /// The text of the table, one line per row unless values wrap or a layout stacks fields. With
    /// `width`, the first layout whose whole values and longest words fit is used, and free text
    /// wraps to fit; without, the widest layout, nothing wrapped. Trailing spaces are trimmed.
    pub(crate) fn render(&self, width: Option<u16>) -> String {
        let layouts: Vec<Vec<Vec<usize>>> = self.layouts.iter().map(|l| self.resolve(l)).collect();
        let (columns, words_fit) = match width {
            None => (&layouts[0], true),
            Some(w) => layouts
                .iter()
                .find(|l| self.min_width(l, true) <= usize::from(w))
                .map(|l| (l, true))
                .unwrap_or_else(|| (layouts.last().expect("one layout"), false)),
        };
        let mut t = comfy_table::Table::new();
        t.load_style(presets::NOTHING).force_no_tty();
        match width {
            Some(w) => t
                .set_width(w)
                .set_content_arrangement(ContentArrangement::Dynamic),
            None => t.set_content_arrangement(ContentArrangement::Disabled),
        };
        t.set_header(stack(columns, |i| self.fields[i].name));
        for row in &self.rows {
            t.add_row(stack(columns, |i| row[i].as_str()));
        }
        let text_widths = width.map(|w| self.text_widths(columns, usize::from(w), words_fit));
        let last = columns.len() - 1;
        for (k, c) in columns.iter().enumerate() {
            let padding = (
                if k == 0 { 0 } else { PAD },
                if k == last { 0 } else { PAD },
            );
            let column = t.column_mut(k).expect("a column per layout entry");
            column.set_padding(padding);
            if c.iter().all(|&i| self.fields[i].fit == Fit::Whole) {
                column.set_constraint(ColumnConstraint::ContentWidth);
            } else if let Some(widths) = &text_widths {
                let w = u16::try_from(widths[k]).unwrap_or(u16::MAX);
                column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                    w.saturating_add(padding.0 + padding.1),
                )));
            }
        }
        let mut text = t.trim_fmt();
        text.push('\n');
        text
    }

    /// The width of each column holding free text when the table is `width` wide: its minimum,
    /// and of what is left, the columns that need least get what they need and the rest share
    /// equally. (comfy-table's own dynamic arrangement would do this too, but pins a column to its
    /// lower boundary whenever the average share is below it, leaving the space it could have had
    /// unused.) Columns of whole values keep their content width and are not counted here.
    fn text_widths(&self, columns: &[Vec<usize>], width: usize, words: bool) -> Vec<usize> {
        let mut widths: Vec<usize> = columns.iter().map(|c| self.column_min(c, words)).collect();
        let mut left = width.saturating_sub(self.min_width(columns, words));
        let mut wanting: Vec<(usize, usize)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.iter().any(|&i| self.fields[i].fit == Fit::Text))
            .map(|(k, c)| (k, self.column_full(c).saturating_sub(widths[k])))
            .collect();
        wanting.sort_by_key(|&(_, need)| need);
        let mut open = wanting.len();
        for (k, need) in wanting {
            let give = need.min(left / open);
            widths[k] += give;
            left -= give;
            open -= 1;
        }
        widths
    }

    /// The width a column takes when nothing in it wraps.
    fn column_full(&self, column: &[usize]) -> usize {
        column
            .iter()
            .flat_map(|&i| {
                std::iter::once(self.fields[i].name)
                    .chain(self.rows.iter().map(move |r| r[i].as_str()))
            })
            .flat_map(str::lines)
            .map(width)
            .max()
            .unwrap_or(0)
    }

    /// A layout's columns as field indices.
    fn resolve(&self, layout: Layout) -> Vec<Vec<usize>> {
        layout
            .iter()
            .map(|column| {
                column
                    .iter()
                    .map(|name| {
                        self.fields
                            .iter()
                            .position(|f| f.name == *name)
                            .unwrap_or_else(|| panic!("layout names an unknown field {name:?}"))
                    })
                    .collect()
            })
            .collect()
    }

    /// The narrowest a layout can be: its columns' minimums and the spaces between them.
    fn min_width(&self, columns: &[Vec<usize>], words: bool) -> usize {
        let gaps = 2 * usize::from(PAD) * columns.len().saturating_sub(1);
        columns
            .iter()
            .map(|c| self.column_min(c, words))
            .sum::<usize>()
            + gaps
    }

    /// The narrowest a column can be: its whole values' widths, and with `words` the longest word
    /// of its free text (header included).
    fn column_min(&self, column: &[usize], words: bool) -> usize {
        column
            .iter()
            .map(|&i| {
                let texts = std::iter::once(self.fields[i].name)
                    .chain(self.rows.iter().map(|r| r[i].as_str()));
                match self.fields[i].fit {
                    Fit::Whole => texts.flat_map(str::lines).map(width).max(),
                    Fit::Text if words => texts.flat_map(str::split_whitespace).map(width).max(),
                    Fit::Text => Some(1),
                }
                .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

/// A row's cells for a layout: the values of a column's fields on lines of their own.
fn stack<'a>(columns: &[Vec<usize>], value: impl Fn(usize) -> &'a str) -> Vec<String> {
    columns
        .iter()
        .map(|c| c.iter().map(|&i| value(i)).collect::<Vec<_>>().join("\n"))
        .collect()
}

/// Display width, counted in characters: the values shown here are ASCII or single-width letters.
fn width(s: &str) -> usize {
    s.chars().count()
}

/// The width tables are laid out for. `COLUMNS`, when set to a number, overrides everything (shells
/// do not export it, so setting it is deliberate). Otherwise the terminal's width when standard
/// output is a terminal. Otherwise (a pipe or a file) `None`: the widest layout, nothing wrapped,
/// one line per row, which is what `less -S`, `grep` and a saved file want.
pub(crate) fn output_width() -> Option<u16> {
    width_from(std::env::var("COLUMNS").ok().as_deref(), || {
        // comfy-table asks the terminal (TIOCGWINSZ) only when standard output is one.
        comfy_table::Table::new().width()
    })
}

/// [`output_width`]'s rule, with the terminal's answer passed in.
fn width_from(columns: Option<&str>, terminal: impl FnOnce() -> Option<u16>) -> Option<u16> {
    columns
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&w| w > 0)
        .or_else(terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        Field {
            name: "time",
            fit: Fit::Whole,
        },
        Field {
            name: "mmsi",
            fit: Fit::Whole,
        },
        Field {
            name: "note",
            fit: Fit::Text,
        },
    ];
    const LAYOUTS: &[Layout] = &[
        &[&["time"], &["mmsi"], &["note"]],
        &[&["time", "mmsi"], &["note"]],
    ];

    fn table() -> Table {
        let mut t = Table::new(FIELDS, LAYOUTS);
        t.push(vec![
            "2025-01-20T10:55:38.452Z".into(),
            "273000201".into(),
            "a note long enough to wrap in a narrow terminal".into(),
        ]);
        t
    }

    #[test]
    fn without_a_width_nothing_wraps_and_columns_are_two_spaces_apart() {
        let text = table().render(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("time  "), "{text}");
        assert!(
            lines[1].starts_with("2025-01-20T10:55:38.452Z  273000201  a note long"),
            "{text}"
        );
        assert!(text.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn whole_values_stay_whole_and_free_text_wraps() {
        for w in [40u16, 50, 60, 80] {
            let text = table().render(Some(w));
            assert!(
                text.lines().all(|l| width(l) <= usize::from(w)),
                "{w}:\n{text}"
            );
            assert!(text.contains("2025-01-20T10:55:38.452Z"), "{w}:\n{text}");
            assert!(text.contains("273000201"), "{w}:\n{text}");
            assert!(text.contains("narrow"), "{w}: a word was split:\n{text}");
        }
        // 40 columns take the stacked layout: the MMSI under the time.
        let narrow = table().render(Some(40));
        let lines: Vec<&str> = narrow.lines().collect();
        assert!(lines[0].starts_with("time"), "{narrow}");
        assert!(lines[1].starts_with("mmsi"), "{narrow}");
        assert!(lines[3].starts_with("273000201"), "{narrow}");
    }

    #[test]
    fn a_width_too_small_for_whole_values_grows_the_line_instead_of_cutting() {
        let text = table().render(Some(20));
        assert!(text.contains("2025-01-20T10:55:38.452Z"), "{text}");
    }

    #[test]
    fn columns_overrides_the_terminal_and_a_pipe_has_no_width() {
        assert_eq!(width_from(Some("80"), || Some(200)), Some(80));
        assert_eq!(width_from(Some(" 132 "), || None), Some(132));
        assert_eq!(width_from(None, || Some(200)), Some(200));
        assert_eq!(width_from(Some("wide"), || Some(120)), Some(120));
        assert_eq!(width_from(Some("0"), || None), None);
        assert_eq!(width_from(None, || None), None);
    }
}
