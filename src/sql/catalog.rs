//! The catalog: table and view definitions stored in the database itself.
//!
//! Each relation is one MVCC key in the catalog tree (key: its name; value:
//! the encoded [`Table`], [`View`] or index name entry), so DDL is
//! transactional and survives restarts, and tables, views and indexes
//! share one namespace, as in PostgreSQL. A table's definition holds its
//! secondary indexes ([`Index`]), so whoever reads a table to write it has
//! every index it must maintain; an index's own entry names its table.
//! Each table's rows live in a tree of their own whose id the schema
//! records. A table without a primary key is keyed by a hidden row id drawn
//! from a sequence. A view stores its query as SQL text, bound again
//! wherever the view is used, and the relations that text reads, so that
//! dropping one of them can refuse (2BP01) or cascade.
//!
//! Encodings (little-endian; strings are a u32 length + UTF-8), told apart
//! by their first byte:
//! - table, `1`: `u64` tree id, name, `u16` column count, per column: name,
//!   `u8` type tag, `u32` modifier (varchar or char length, numeric typmod,
//!   time precision + 1; 0 = none), `u8` nullable, `u8` has
//!   default + default expression text; then `u16` primary-key column count
//!   and each `u16` column index; then (absent before indexes existed) `u16`
//!   index count, per index: name, `u64` tree id, `u8` flags (1: unique, 2:
//!   backs a UNIQUE constraint, 4: NULLS NOT DISTINCT, 8: an extension
//!   follows the columns), `u16` column count, per column: `u16` column
//!   index (of the table's columns, or with flag 4 of the index's
//!   expressions) and `u8` flags (1: descending, 2: nulls first, 4: an
//!   expression); with flag 8, then `u16` expression count and each
//!   expression's SQL text, `u16` INCLUDE column count and each `u16`
//!   column index, and `u8` has predicate + the predicate's SQL text.
//!   Expressions and predicates are stored as text and bound again when
//!   the definition is read (`binder::bind_index_expression`), like a
//!   view's query.
//! - view, `2`: name, query text, `u16` column count and each column name,
//!   `u16` dependency count and each relation name.
//! - index name, `3`: the index's name and its table's name.

use super::encoding::Reader;
use super::expr::Expr;
use super::types::DataType;
use crate::error::{Error, Result, SqlState};
use crate::storage::TreeId;
use crate::txn::Transaction;

/// The tree holding the catalog.
pub const CATALOG_TREE: TreeId = 2;

/// A column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableColumn {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The DEFAULT expression as SQL text, bound when used.
    pub default: Option<String>,
}

/// A column of an index: what it holds, in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexColumn {
    pub key: IndexKey,
    pub descending: bool,
    pub nulls_first: bool,
}

/// What an index column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKey {
    /// A table column (its index).
    Column(usize),
    /// An expression over the row (its index in [`Index::expressions`]).
    Expression(usize),
}

impl IndexColumn {
    /// A plain column of the table, ascending with NULLs last.
    pub fn ascending(column: usize) -> IndexColumn {
        IndexColumn {
            key: IndexKey::Column(column),
            descending: false,
            nulls_first: false,
        }
    }

    /// The table column it holds, if it is a plain column.
    pub fn table_column(&self) -> Option<usize> {
        match self.key {
            IndexKey::Column(column) => Some(column),
            IndexKey::Expression(_) => None,
        }
    }
}

/// What an index expression is: a key column or the predicate of a
/// partial index (their binding rules and messages differ a little).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexExpressionRole {
    Key,
    Predicate,
}

/// An index's key expression or predicate: its SQL text, as stored, and
/// its bound form over a table row (`Expr::Slot(i)` reads table column
/// `i`), which needs no context but the row to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexExpression {
    pub text: String,
    pub expr: Expr,
    pub data_type: DataType,
}

/// A secondary index (`sql/index.rs` encodes its entries).
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub name: String,
    pub tree: TreeId,
    pub unique: bool,
    /// `NULLS NOT DISTINCT`: a unique index compares keys with NULLs too.
    pub nulls_not_distinct: bool,
    /// It backs a UNIQUE constraint (named like it), which DROP INDEX
    /// refuses to drop.
    pub constraint: bool,
    /// The key columns, in order.
    pub columns: Vec<IndexColumn>,
    /// The expressions `IndexKey::Expression` columns hold.
    pub expressions: Vec<IndexExpression>,
    /// `INCLUDE` columns (table column indices): stored in every entry
    /// after the key, for index-only reads, but neither compared for
    /// uniqueness nor searchable.
    pub include: Vec<usize>,
    /// A partial index's `WHERE`: only rows it is true for have entries.
    pub predicate: Option<IndexExpression>,
}

impl Index {
    /// A plain index: columns only, no INCLUDE, no predicate.
    pub fn is_plain(&self) -> bool {
        self.expressions.is_empty() && self.include.is_empty() && self.predicate.is_none()
    }

    /// The type of the values key column `column` holds.
    pub fn key_type(&self, table: &Table, column: &IndexColumn) -> DataType {
        match column.key {
            IndexKey::Column(position) => table.columns[position].data_type,
            IndexKey::Expression(position) => self.expressions[position].data_type,
        }
    }

    /// Whether the entry holds table column `column`'s value (as a key
    /// column or an INCLUDE column).
    pub fn holds_column(&self, column: usize) -> bool {
        self.include.contains(&column)
            || self
                .columns
                .iter()
                .any(|key| key.table_column() == Some(column))
    }

    /// Key column `column` as SQL text: the table column's name or the
    /// expression.
    pub fn key_text<'a>(&'a self, table: &'a Table, column: &IndexColumn) -> &'a str {
        match column.key {
            IndexKey::Column(position) => &table.columns[position].name,
            IndexKey::Expression(position) => &self.expressions[position].text,
        }
    }
}

/// A table definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub tree: TreeId,
    pub columns: Vec<TableColumn>,
    /// Indices of the primary-key columns; empty means a hidden row id.
    pub primary_key: Vec<usize>,
    pub indexes: Vec<Index>,
    /// The catalog epoch of the snapshot the definition was read under
    /// (`txn/relation_lock.rs`); not stored.
    pub catalog_epoch: u64,
}

impl Table {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    /// The name of the primary-key constraint, as PostgreSQL names it.
    pub fn primary_key_name(&self) -> String {
        format!("{}_pkey", self.name)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&self.tree.to_le_bytes());
        put_string(&mut out, &self.name);
        out.extend_from_slice(&(self.columns.len() as u16).to_le_bytes());
        for column in &self.columns {
            put_string(&mut out, &column.name);
            let (tag, limit) = match column.data_type {
                DataType::Boolean => (0u8, 0u32),
                DataType::SmallInt => (1, 0),
                DataType::Integer => (2, 0),
                DataType::BigInt => (3, 0),
                DataType::Real => (4, 0),
                DataType::Double => (5, 0),
                DataType::Text => (6, 0),
                DataType::Varchar(limit) => (7, limit.unwrap_or(0)),
                DataType::Char(length) => (14, length),
                // The packed `atttypmod` (at least 4), or 0 for plain numeric.
                DataType::Numeric(modifier) => (
                    8,
                    modifier.map_or(0, |modifier| modifier.type_modifier() as u32),
                ),
                // Precision + 1, or 0 for none.
                DataType::Date => (9, 0),
                DataType::Time(precision) => (10, precision.map_or(0, |p| p as u32 + 1)),
                DataType::Timestamp(precision) => (11, precision.map_or(0, |p| p as u32 + 1)),
                DataType::Timestamptz(precision) => (12, precision.map_or(0, |p| p as u32 + 1)),
                DataType::Interval(precision) => (13, precision.map_or(0, |p| p as u32 + 1)),
            };
            out.push(tag);
            out.extend_from_slice(&limit.to_le_bytes());
            out.push(column.nullable as u8);
            match &column.default {
                Some(default) => {
                    out.push(1);
                    put_string(&mut out, default);
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.primary_key.len() as u16).to_le_bytes());
        for index in &self.primary_key {
            out.extend_from_slice(&(*index as u16).to_le_bytes());
        }
        out.extend_from_slice(&(self.indexes.len() as u16).to_le_bytes());
        for index in &self.indexes {
            put_string(&mut out, &index.name);
            out.extend_from_slice(&index.tree.to_le_bytes());
            let extended = !index.is_plain();
            out.push(
                index.unique as u8
                    | (index.constraint as u8) << 1
                    | (index.nulls_not_distinct as u8) << 2
                    | (extended as u8) << 3,
            );
            out.extend_from_slice(&(index.columns.len() as u16).to_le_bytes());
            for column in &index.columns {
                let (position, expression) = match column.key {
                    IndexKey::Column(position) => (position, false),
                    IndexKey::Expression(position) => (position, true),
                };
                out.extend_from_slice(&(position as u16).to_le_bytes());
                out.push(
                    column.descending as u8
                        | (column.nulls_first as u8) << 1
                        | (expression as u8) << 2,
                );
            }
            if extended {
                out.extend_from_slice(&(index.expressions.len() as u16).to_le_bytes());
                for expression in &index.expressions {
                    put_string(&mut out, &expression.text);
                }
                out.extend_from_slice(&(index.include.len() as u16).to_le_bytes());
                for column in &index.include {
                    out.extend_from_slice(&(*column as u16).to_le_bytes());
                }
                match &index.predicate {
                    Some(predicate) => {
                        out.push(1);
                        put_string(&mut out, &predicate.text);
                    }
                    None => out.push(0),
                }
            }
        }
        out
    }

    /// Decodes a table entry; `resolve` binds an index expression's text
    /// over the table's columns.
    fn decode(bytes: &[u8], resolve: &mut ExpressionResolver<'_>) -> Result<Table> {
        let mut reader = Reader::new(bytes, "catalog entry");
        let version = reader.u8()?;
        if version != 1 {
            return Err(Error::Corrupt(format!(
                "unknown catalog format version {version}"
            )));
        }
        let tree = reader.u64()?;
        let name = reader.string()?;
        let count = reader.u16()? as usize;
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            let column_name = reader.string()?;
            let tag = reader.u8()?;
            let limit = reader.u32()?;
            let data_type = match tag {
                0 => DataType::Boolean,
                1 => DataType::SmallInt,
                2 => DataType::Integer,
                3 => DataType::BigInt,
                4 => DataType::Real,
                5 => DataType::Double,
                6 => DataType::Text,
                7 => DataType::Varchar(if limit == 0 { None } else { Some(limit) }),
                8 if limit == 0 => DataType::Numeric(None),
                8 => DataType::Numeric(Some(
                    crate::sql::numeric::NumericModifier::from_type_modifier(limit as i32)
                        .ok_or_else(|| {
                            Error::Corrupt(format!("bad numeric modifier {limit} in catalog"))
                        })?,
                )),
                9 => DataType::Date,
                14 if limit > 0 => DataType::Char(limit),
                10..=13 => {
                    let precision = match limit {
                        0 => None,
                        1..=7 => Some(limit as u8 - 1),
                        _ => {
                            return Err(Error::Corrupt(format!(
                                "bad time precision {limit} in catalog"
                            )));
                        }
                    };
                    match tag {
                        10 => DataType::Time(precision),
                        11 => DataType::Timestamp(precision),
                        12 => DataType::Timestamptz(precision),
                        _ => DataType::Interval(precision),
                    }
                }
                _ => return Err(Error::Corrupt(format!("unknown type tag {tag} in catalog"))),
            };
            let nullable = reader.u8()? != 0;
            let default = if reader.u8()? != 0 {
                Some(reader.string()?)
            } else {
                None
            };
            columns.push(TableColumn {
                name: column_name,
                data_type,
                nullable,
                default,
            });
        }
        let key_count = reader.u16()? as usize;
        let mut primary_key = Vec::with_capacity(key_count);
        for _ in 0..key_count {
            let index = reader.u16()? as usize;
            if index >= columns.len() {
                return Err(Error::Corrupt("primary-key column out of range".into()));
            }
            primary_key.push(index);
        }
        let mut indexes = Vec::new();
        if !reader.is_empty() {
            let count = reader.u16()?;
            for _ in 0..count {
                let index_name = reader.string()?;
                let tree = reader.u64()?;
                let flags = reader.u8()?;
                let column_count = reader.u16()?;
                let mut index_columns = Vec::with_capacity(column_count as usize);
                for _ in 0..column_count {
                    let position = reader.u16()? as usize;
                    let order = reader.u8()?;
                    let key = if order & 4 != 0 {
                        IndexKey::Expression(position)
                    } else if position < columns.len() {
                        IndexKey::Column(position)
                    } else {
                        return Err(Error::Corrupt("index column out of range".into()));
                    };
                    index_columns.push(IndexColumn {
                        key,
                        descending: order & 1 != 0,
                        nulls_first: order & 2 != 0,
                    });
                }
                let (mut expressions, mut include, mut predicate) = (Vec::new(), Vec::new(), None);
                if flags & 8 != 0 {
                    for _ in 0..reader.u16()? {
                        let text = reader.string()?;
                        expressions.push(resolve(
                            &name,
                            &columns,
                            &text,
                            IndexExpressionRole::Key,
                        )?);
                    }
                    for _ in 0..reader.u16()? {
                        let column = reader.u16()? as usize;
                        if column >= columns.len() {
                            return Err(Error::Corrupt("INCLUDE column out of range".into()));
                        }
                        include.push(column);
                    }
                    if reader.u8()? != 0 {
                        let text = reader.string()?;
                        let role = IndexExpressionRole::Predicate;
                        predicate = Some(resolve(&name, &columns, &text, role)?);
                    }
                }
                if index_columns.iter().any(|column| {
                    matches!(column.key, IndexKey::Expression(e) if e >= expressions.len())
                }) {
                    return Err(Error::Corrupt("index expression out of range".into()));
                }
                indexes.push(Index {
                    name: index_name,
                    tree,
                    unique: flags & 1 != 0,
                    constraint: flags & 2 != 0,
                    nulls_not_distinct: flags & 4 != 0,
                    columns: index_columns,
                    expressions,
                    include,
                    predicate,
                });
            }
        }
        if !reader.is_empty() {
            return Err(Error::Corrupt("trailing bytes in a table entry".into()));
        }
        Ok(Table {
            name,
            tree,
            columns,
            primary_key,
            indexes,
            catalog_epoch: 0,
        })
    }
}

/// A view definition.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub name: String,
    /// The defining query, as SQL text.
    pub query: String,
    /// The output column names.
    pub columns: Vec<String>,
    /// The tables and views the query reads.
    pub dependencies: Vec<String>,
}

impl View {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![2u8];
        put_string(&mut out, &self.name);
        put_string(&mut out, &self.query);
        for list in [&self.columns, &self.dependencies] {
            out.extend_from_slice(&(list.len() as u16).to_le_bytes());
            for item in list {
                put_string(&mut out, item);
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<View> {
        let mut reader = Reader::new(bytes, "catalog entry");
        if reader.u8()? != 2 {
            return Err(Error::Corrupt("a view entry without its tag".into()));
        }
        let name = reader.string()?;
        let query = reader.string()?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let count = reader.u16()?;
            for _ in 0..count {
                list.push(reader.string()?);
            }
        }
        let [columns, dependencies] = lists;
        Ok(View {
            name,
            query,
            columns,
            dependencies,
        })
    }
}

/// An index's name entry: the index itself is described in its table's
/// definition.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexName {
    pub name: String,
    pub table: String,
}

impl IndexName {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![3u8];
        put_string(&mut out, &self.name);
        put_string(&mut out, &self.table);
        out
    }

    fn decode(bytes: &[u8]) -> Result<IndexName> {
        let mut reader = Reader::new(bytes, "catalog entry");
        if reader.u8()? != 3 {
            return Err(Error::Corrupt("an index entry without its tag".into()));
        }
        Ok(IndexName {
            name: reader.string()?,
            table: reader.string()?,
        })
    }
}

/// A table, a view or an index.
#[derive(Clone, Debug, PartialEq)]
pub enum Relation {
    Table(Table),
    View(View),
    Index(IndexName),
}

impl Relation {
    pub fn name(&self) -> &str {
        match self {
            Relation::Table(table) => &table.name,
            Relation::View(view) => &view.name,
            Relation::Index(index) => &index.name,
        }
    }

    fn decode(bytes: &[u8], resolve: &mut ExpressionResolver<'_>) -> Result<Relation> {
        match bytes.first() {
            Some(1) => Ok(Relation::Table(Table::decode(bytes, resolve)?)),
            Some(2) => Ok(Relation::View(View::decode(bytes)?)),
            Some(3) => Ok(Relation::Index(IndexName::decode(bytes)?)),
            Some(other) => Err(Error::Corrupt(format!(
                "unknown catalog format version {other}"
            ))),
            None => Err(Error::Corrupt("empty catalog entry".into())),
        }
    }
}

/// Binds an index expression's stored text over a table's columns: (the
/// table's name, its columns, the text, what the expression is).
pub type ExpressionResolver<'a> =
    dyn FnMut(&str, &[TableColumn], &str, IndexExpressionRole) -> Result<IndexExpression> + 'a;

/// Decodes a catalog entry read by `txn`, binding its index expressions.
fn decode_relation(txn: &mut Transaction, bytes: &[u8]) -> Result<Relation> {
    Relation::decode(bytes, &mut |table, columns, text, role| {
        crate::sql::binder::bind_index_expression(txn, table, columns, text, role)
    })
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Creates the catalog tree on first use of a database.
pub fn initialize(mvcc: &crate::txn::Mvcc) -> Result<()> {
    if !mvcc.engine().tree_exists(CATALOG_TREE)? {
        mvcc.engine().create_tree(CATALOG_TREE)?;
    }
    Ok(())
}

/// Looks up a relation by name in the transaction's snapshot.
pub fn get_relation(txn: &mut Transaction, name: &str) -> Result<Option<Relation>> {
    let epoch = txn.catalog_epoch();
    match txn.get(CATALOG_TREE, name.as_bytes())? {
        Some(bytes) => Ok(Some(with_epoch(decode_relation(txn, &bytes)?, epoch))),
        None => Ok(None),
    }
}

/// Looks up a relation by name as it is now, not as the snapshot shows it
/// (`Transaction::get_current`): for DDL and for writers under a relation
/// lock, which must see the definition every other writer will use.
pub fn get_current_relation(txn: &mut Transaction, name: &str) -> Result<Option<Relation>> {
    let epoch = txn.catalog_epoch();
    match txn.get_current(CATALOG_TREE, name.as_bytes())? {
        Some(bytes) => Ok(Some(with_epoch(decode_relation(txn, &bytes)?, epoch))),
        None => Ok(None),
    }
}

/// `table`'s definition as it is now (`get_current_relation`); 40001 if a
/// concurrent transaction dropped it or replaced it with another table.
pub fn current_table(txn: &mut Transaction, table: &Table) -> Result<Table> {
    match get_current_relation(txn, &table.name)? {
        Some(Relation::Table(current)) if current.tree == table.tree => Ok(current),
        _ => Err(Error::Serialization(format!(
            "table \"{}\" was dropped or replaced by a concurrent transaction",
            table.name
        ))),
    }
}

fn with_epoch(mut relation: Relation, epoch: u64) -> Relation {
    if let Relation::Table(table) = &mut relation {
        table.catalog_epoch = epoch;
    }
    relation
}

/// Looks up a table or view, failing with 42P01 if there is none.
pub fn require_relation(txn: &mut Transaction, name: &str) -> Result<Relation> {
    get_relation(txn, name)?.ok_or_else(|| undefined_relation(name))
}

fn undefined_relation(name: &str) -> Error {
    Error::sql(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

/// Looks up a table by name (`None` if there is no relation of that name;
/// 42809 if it is a view).
pub fn get_table(txn: &mut Transaction, name: &str) -> Result<Option<Table>> {
    match get_relation(txn, name)? {
        Some(Relation::Table(table)) => Ok(Some(table)),
        Some(Relation::View(_) | Relation::Index(_)) => Err(not_a_table(name)),
        None => Ok(None),
    }
}

/// 42809 for a view or an index named where a table must be.
pub fn not_a_table(name: &str) -> Error {
    Error::sql(
        SqlState::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not a table"),
    )
}

/// Looks up a table, failing with 42P01 if it does not exist.
pub fn require_table(txn: &mut Transaction, name: &str) -> Result<Table> {
    get_table(txn, name)?.ok_or_else(|| undefined_relation(name))
}

/// Stores a table definition.
pub fn put_table(txn: &mut Transaction, table: &Table) -> Result<()> {
    txn.set(CATALOG_TREE, table.name.as_bytes(), &table.encode())
}

/// Stores a view definition.
pub fn put_view(txn: &mut Transaction, view: &View) -> Result<()> {
    txn.set(CATALOG_TREE, view.name.as_bytes(), &view.encode())
}

/// Stores an index's name entry.
pub fn put_index_name(txn: &mut Transaction, index: &IndexName) -> Result<()> {
    txn.set(CATALOG_TREE, index.name.as_bytes(), &index.encode())
}

/// Removes a relation's definition.
pub fn delete_relation(txn: &mut Transaction, name: &str) -> Result<()> {
    txn.delete(CATALOG_TREE, name.as_bytes())
}

/// Every relation visible to the transaction, ordered by name.
pub fn list_relations(txn: &mut Transaction) -> Result<Vec<Relation>> {
    let mut entries = Vec::new();
    for entry in txn.scan(
        CATALOG_TREE,
        crate::storage::KeyRange::all(),
        crate::storage::Direction::Forward,
    ) {
        entries.push(entry?.1);
    }
    entries
        .iter()
        .map(|bytes| decode_relation(txn, bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver for entries without index expressions.
    fn unbound(
        _: &str,
        _: &[TableColumn],
        text: &str,
        _: IndexExpressionRole,
    ) -> Result<IndexExpression> {
        panic!("no expression to bind, got {text}")
    }

    #[test]
    fn expression_and_partial_indexes_round_trip() {
        let column = |name: &str| TableColumn {
            name: name.into(),
            data_type: DataType::Integer,
            nullable: true,
            default: None,
        };
        // Binding is the binder's; here each text binds to a fixed form.
        let expression = |text: &str| {
            let (expr, data_type) = match text {
                "abs(a)" => (Expr::Slot(0), DataType::Integer),
                "b > 0" => (Expr::Slot(1), DataType::Boolean),
                other => panic!("unexpected text {other}"),
            };
            IndexExpression {
                text: text.into(),
                expr,
                data_type,
            }
        };
        let table = Table {
            name: "t".into(),
            tree: 7,
            columns: vec![column("a"), column("b"), column("c")],
            primary_key: Vec::new(),
            indexes: vec![Index {
                name: "t_abs_c_idx".into(),
                tree: 8,
                unique: true,
                constraint: false,
                nulls_not_distinct: false,
                columns: vec![
                    IndexColumn {
                        key: IndexKey::Expression(0),
                        descending: true,
                        nulls_first: true,
                    },
                    IndexColumn::ascending(2),
                ],
                expressions: vec![expression("abs(a)")],
                include: vec![1],
                predicate: Some(expression("b > 0")),
            }],
            catalog_epoch: 0,
        };
        let bytes = table.encode();
        let mut resolve = |table: &str, columns: &[TableColumn], text: &str, _| {
            assert_eq!((table, columns.len()), ("t", 3));
            Ok(expression(text))
        };
        assert_eq!(Table::decode(&bytes, &mut resolve).unwrap(), table);
        for cut in 1..12 {
            assert!(matches!(
                Table::decode(&bytes[..bytes.len() - cut], &mut resolve),
                Err(Error::Corrupt(_))
            ));
        }
    }

    #[test]
    fn table_round_trips() {
        let table = Table {
            name: "accounts".into(),
            tree: 42,
            columns: vec![
                TableColumn {
                    name: "id".into(),
                    data_type: DataType::Integer,
                    nullable: false,
                    default: None,
                },
                TableColumn {
                    name: "owner".into(),
                    data_type: DataType::Varchar(Some(20)),
                    nullable: true,
                    default: Some("'nobody'".into()),
                },
            ],
            primary_key: vec![0],
            indexes: vec![Index {
                name: "accounts_owner_key".into(),
                tree: 43,
                unique: true,
                constraint: true,
                nulls_not_distinct: false,
                columns: vec![IndexColumn {
                    key: IndexKey::Column(1),
                    descending: true,
                    nulls_first: false,
                }],
                expressions: Vec::new(),
                include: Vec::new(),
                predicate: None,
            }],
            catalog_epoch: 0,
        };
        let bytes = table.encode();
        assert_eq!(Table::decode(&bytes, &mut unbound).unwrap(), table);
        // A table stored before indexes existed has no index section.
        let mut old = table.clone();
        old.indexes.clear();
        let old_bytes = old.encode();
        assert_eq!(
            Table::decode(&old_bytes[..old_bytes.len() - 2], &mut unbound).unwrap(),
            old
        );
        assert!(matches!(
            Table::decode(&bytes[..bytes.len() - 1], &mut unbound),
            Err(Error::Corrupt(_))
        ));
        let index = IndexName {
            name: "accounts_owner_key".into(),
            table: "accounts".into(),
        };
        assert_eq!(
            Relation::decode(&index.encode(), &mut unbound).unwrap(),
            Relation::Index(index)
        );
        let view = View {
            name: "rich".into(),
            query: "SELECT owner FROM accounts WHERE id > 1".into(),
            columns: vec!["owner".into()],
            dependencies: vec!["accounts".into()],
        };
        assert_eq!(
            Relation::decode(&view.encode(), &mut unbound).unwrap(),
            Relation::View(view.clone())
        );
        let bytes = view.encode();
        assert!(matches!(
            Relation::decode(&bytes[..bytes.len() - 1], &mut unbound),
            Err(Error::Corrupt(_))
        ));
        assert!(matches!(
            Table::decode(&bytes[..bytes.len() - 1], &mut unbound),
            Err(Error::Corrupt(_))
        ));
    }
}
