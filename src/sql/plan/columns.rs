//! The column catalog of one statement: every [`ColumnId`] the binder (or
//! an optimizer rule) hands out, with the name EXPLAIN shows for it and its
//! type.

use crate::sql::expr::ColumnId;
use crate::sql::types::DataType;

/// What is known of one column id.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    /// How EXPLAIN names the column: a table's column name, or the text of
    /// the expression that computes it.
    pub name: String,
    pub data_type: DataType,
    /// The FROM item (name or alias) a table column belongs to, for
    /// qualified names when a query reads several relations.
    pub table: Option<String>,
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
            table: None,
        });
        id
    }

    /// A fresh id for a column of FROM item `table`.
    pub fn add_table_column(
        &mut self,
        table: impl Into<String>,
        name: impl Into<String>,
        data_type: DataType,
    ) -> ColumnId {
        let id = self.add(name, data_type);
        self.columns[id.0 as usize].table = Some(table.into());
        id
    }

    pub fn get(&self, id: ColumnId) -> &ColumnInfo {
        self.columns
            .get(id.0 as usize)
            .expect("invariant: a statement's column ids come from its own catalog")
    }

    pub fn data_type(&self, id: ColumnId) -> DataType {
        self.get(id).data_type
    }

    pub fn name(&self, id: ColumnId) -> &str {
        &self.get(id).name
    }

    /// Sets the FROM item a column is seen through, for EXPLAIN.
    pub fn set_table(&mut self, id: ColumnId, table: &str) {
        self.columns[id.0 as usize].table = Some(table.to_string());
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
