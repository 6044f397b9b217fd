//! `ALTER SEQUENCE`, which sqlparser does not parse:
//!
//! ```text
//!   ALTER SEQUENCE [ IF EXISTS ] name option [ option … ]
//!   option: AS type | INCREMENT [ BY ] n | [ NO ] MINVALUE [ n ]
//!         | [ NO ] MAXVALUE [ n ] | START [ WITH ] n
//!         | RESTART [ [ WITH ] n ] | CACHE n | [ NO ] CYCLE
//!         | OWNED BY { table.column | NONE }
//! ```
//!
//! The options other than RESTART are `CREATE SEQUENCE`'s, in sqlparser's
//! own form, so both statements share one binding of them. Each option may
//! appear once (42601 "conflicting or redundant options" otherwise).

use sqlparser::ast::{self, SequenceOptions};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// A parsed `ALTER SEQUENCE`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterSequence {
    pub if_exists: bool,
    pub name: ast::ObjectName,
    pub options: Vec<SequenceOptions>,
    /// `RESTART`: `Some(None)` restarts at the start value.
    pub restart: Option<Option<ast::Expr>>,
}

/// Whether the parser stands at `ALTER SEQUENCE`.
pub fn at_alter_sequence(parser: &Parser<'_>) -> bool {
    parser.peek_keyword(Keyword::ALTER)
        && matches!(&parser.peek_nth_token_ref(1).token,
            Token::Word(word) if word.keyword == Keyword::SEQUENCE)
}

fn redundant() -> ParserError {
    ParserError::ParserError("conflicting or redundant options".into())
}

/// Parses an `ALTER SEQUENCE` statement the parser stands at. Its forms
/// that change no option (`RENAME TO`, `OWNER TO`, `SET SCHEMA`,
/// `SET LOGGED`) are 0A000.
pub fn parse_alter_sequence(parser: &mut Parser<'_>) -> crate::error::Result<AlterSequence> {
    let map = super::parser_error;
    parser.expect_keyword(Keyword::ALTER).map_err(map)?;
    parser.expect_keyword(Keyword::SEQUENCE).map_err(map)?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let name = parser.parse_object_name(false).map_err(map)?;
    if let Some(keyword) =
        parser.peek_one_of_keywords(&[Keyword::RENAME, Keyword::OWNER, Keyword::SET])
    {
        return Err(crate::error::Error::Unsupported(format!(
            "ALTER SEQUENCE … {keyword:?}"
        )));
    }
    parse_options(parser, if_exists, name).map_err(map)
}

fn parse_options(
    parser: &mut Parser<'_>,
    if_exists: bool,
    name: ast::ObjectName,
) -> Result<AlterSequence, ParserError> {
    let mut options: Vec<SequenceOptions> = Vec::new();
    let mut restart = None;
    loop {
        let option = if parser.parse_keyword(Keyword::INCREMENT) {
            let by = parser.parse_keyword(Keyword::BY);
            SequenceOptions::IncrementBy(parser.parse_number()?, by)
        } else if parser.parse_keyword(Keyword::MINVALUE) {
            SequenceOptions::MinValue(Some(parser.parse_number()?))
        } else if parser.parse_keywords(&[Keyword::NO, Keyword::MINVALUE]) {
            SequenceOptions::MinValue(None)
        } else if parser.parse_keyword(Keyword::MAXVALUE) {
            SequenceOptions::MaxValue(Some(parser.parse_number()?))
        } else if parser.parse_keywords(&[Keyword::NO, Keyword::MAXVALUE]) {
            SequenceOptions::MaxValue(None)
        } else if parser.parse_keyword(Keyword::START) {
            let with = parser.parse_keyword(Keyword::WITH);
            SequenceOptions::StartWith(parser.parse_number()?, with)
        } else if parser.parse_keyword(Keyword::CACHE) {
            SequenceOptions::Cache(parser.parse_number()?)
        } else if parser.parse_keywords(&[Keyword::NO, Keyword::CYCLE]) {
            SequenceOptions::Cycle(true)
        } else if parser.parse_keyword(Keyword::CYCLE) {
            SequenceOptions::Cycle(false)
        } else if parser.parse_keyword(Keyword::AS) {
            SequenceOptions::DataType(parser.parse_data_type()?)
        } else if parser.parse_keywords(&[Keyword::OWNED, Keyword::BY]) {
            let owner = parser.parse_object_name(false)?;
            let none = matches!(owner.0.as_slice(),
                [ast::ObjectNamePart::Identifier(ident)]
                    if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("none"));
            SequenceOptions::OwnedBy((!none).then_some(owner))
        } else if parser.parse_keyword(Keyword::RESTART) {
            if restart.is_some() {
                return Err(redundant());
            }
            let with = parser.parse_keyword(Keyword::WITH);
            let value = if with
                || matches!(
                    parser.peek_token_ref().token,
                    Token::Number(..) | Token::Minus | Token::Plus
                ) {
                Some(parser.parse_number()?)
            } else {
                None
            };
            restart = Some(value);
            continue;
        } else {
            break;
        };
        if options
            .iter()
            .any(|seen| std::mem::discriminant(seen) == std::mem::discriminant(&option))
        {
            return Err(redundant());
        }
        options.push(option);
    }
    if options.is_empty() && restart.is_none() {
        return parser.expected_ref("an ALTER SEQUENCE option", parser.peek_token_ref());
    }
    Ok(AlterSequence {
        if_exists,
        name,
        options,
        restart,
    })
}
