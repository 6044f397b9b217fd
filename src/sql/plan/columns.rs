//! The column catalog of one statement: every [`ColumnId`] the binder (or
//! an optimizer rule) hands out, with the name EXPLAIN shows for it and its
//! type.

use crate::sql::expr::ColumnId;
use crate::sql::types::DataType;

/// What is known of one column id.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    /// How EXPLAIN names the column: `t.a`, `a`, or the expression's text.
    pub name: String,
    pub data_type: DataType,
}

/// The columns of one statement, indexed by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnCatalog {
    columns: Vec<ColumnInfo>,
}

impl ColumnCatalog {
    /// A fresh id for a new column.
    pub fn add(&mut self, name: impl Into<String>, data_type: DataType) -> ColumnId {
        let id = ColumnId(
            u32::try_from(self.columns.len()).expect("invariant: fewer than 2^32 columns"),
        );
        self.columns.push(ColumnInfo {
            name: name.into(),
            data_type,
        });
        id
    }

    pub fn get(&self, id: ColumnId) -> &ColumnInfo {
        &self.columns[id.0 as usize]
    }

    pub fn data_type(&self, id: ColumnId) -> DataType {
        self.get(id).data_type
    }

    pub fn name(&self, id: ColumnId) -> &str {
        &self.get(id).name
    }

    /// Renames a column for EXPLAIN.
    pub fn rename(&mut self, id: ColumnId, name: impl Into<String>) {
        self.columns[id.0 as usize].name = name.into();
    }
}

/// One result column of a statement, as RowDescription reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
}
