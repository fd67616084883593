//! The columnar block format (implementation in progress; the types are the contract).

use crate::model::FieldType;

/// The values of one column: only the *present* values, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Float values.
    Float(Vec<f64>),
    /// Signed integer values.
    Integer(Vec<i64>),
    /// Unsigned integer values.
    Unsigned(Vec<u64>),
    /// Boolean values.
    Boolean(Vec<bool>),
    /// String values.
    String(Vec<String>),
}

impl ColumnData {
    /// The field type these values have.
    pub fn field_type(&self) -> FieldType {
        match self {
            ColumnData::Float(_) => FieldType::Float,
            ColumnData::Integer(_) => FieldType::Integer,
            ColumnData::Unsigned(_) => FieldType::Unsigned,
            ColumnData::Boolean(_) => FieldType::Boolean,
            ColumnData::String(_) => FieldType::String,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Integer(v) => v.len(),
            ColumnData::Unsigned(v) => v.len(),
            ColumnData::Boolean(v) => v.len(),
            ColumnData::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One field column of a block (or of a read result).
///
/// `presence` is `None` when every row has a value; otherwise it has one flag
/// per row and `data` holds exactly as many values as there are `true` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Field key.
    pub name: String,
    /// Present values, in row order.
    pub data: ColumnData,
    /// Per-row presence, `None` = all rows present.
    pub presence: Option<Vec<bool>>,
}
