//! Filtering rows by their related rows (Django's `filter(author__email=…)` across a relation),
//! without the caller writing a join.

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition, Query, SelectStatement, TableRef};
use sea_orm::{Condition, EntityTrait, Identity, Related, RelationDef};

use crate::query::QuerySet;

/// A relation key's columns, table-qualified.
fn columns(table: &TableRef, key: &Identity) -> Vec<Expr> {
    key.clone()
        .into_iter()
        .map(|col| Expr::col((table.sea_orm_table().clone(), col)))
        .collect()
}

/// One expression for a key: the column, or a row value `(a, b)` for a composite key.
fn key_expr(table: &TableRef, key: &Identity) -> Expr {
    let mut cols = columns(table, key);
    if cols.len() == 1 {
        cols.remove(0)
    } else {
        Expr::tuple(cols)
    }
}

/// `SELECT <rel.to_col…> FROM <rel.to_tbl>`: the keys `rel`'s source side may match.
fn keys_of(rel: &RelationDef) -> SelectStatement {
    let mut select = Query::select();
    select
        .exprs(columns(&rel.to_tbl, &rel.to_col))
        .from(rel.to_tbl.sea_orm_table().clone());
    select
}

impl<E: EntityTrait> QuerySet<E> {
    /// Keeps the rows with at least one related `R` row matching `cond` (Django's
    /// `filter(author__email="…")` or `filter(comments__body__contains="…")`), written as a
    /// subquery (`key IN (SELECT …)`), so a one-to-many relation never repeats rows. Works for
    /// many-to-one, one-to-many and many-to-many relations (through the junction table), with
    /// single-column or composite keys (a row value `(a, b) IN (SELECT …)`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::{post, user};
    ///
    /// let by_ada = post::Entity::objects()
    ///     .filter_related::<user::Entity>(user::Column::Email.eq("ada@example.com"))
    ///     .alist()
    ///     .await?;
    /// assert!(!by_ada.is_empty());
    /// let authors = user::Entity::objects()
    ///     .filter_related::<post::Entity>(post::Column::Published.eq(true))
    ///     .acount()
    ///     .await?;
    /// assert!(authors >= 1);
    /// # Ok(()) });
    /// ```
    pub fn filter_related<R>(self, cond: impl IntoCondition) -> Self
    where
        R: EntityTrait,
        E: Related<R>,
    {
        self.filter(related_match::<E, R>(cond.into_condition()))
    }
}

/// Whether a row of `E` has a related `R` row matching `cond`: `key IN (SELECT …)`.
pub(crate) fn related_match<E, R>(cond: Condition) -> Expr
where
    E: EntityTrait + Related<R>,
    R: EntityTrait,
{
    {
        let to = <E as Related<R>>::to();
        let (rel, select) = match <E as Related<R>>::via() {
            // E → junction (via), junction → R (to): E.key IN (SELECT junction.fk FROM junction
            // JOIN R ON junction.other = R.key WHERE cond).
            Some(via) => {
                let on = columns(&to.from_tbl, &to.from_col)
                    .into_iter()
                    .zip(columns(&to.to_tbl, &to.to_col))
                    .fold(Condition::all(), |on, (a, b)| on.add(a.eq(b)));
                let mut select = keys_of(&via);
                select
                    .inner_join(to.to_tbl.sea_orm_table().clone(), on)
                    .cond_where(cond);
                (via, select)
            }
            None => {
                let mut select = keys_of(&to);
                select.cond_where(cond);
                (to, select)
            }
        };
        key_expr(&rel.from_tbl, &rel.from_col).in_subquery(select)
    }
}

/// `SELECT <pk> FROM (<qs's rows>) AS duetto_part`: `qs`'s primary keys, wrapped so a slice inside
/// is allowed in an `IN (…)` on every backend (MySQL refuses `LIMIT` directly there).
fn primary_keys<E: EntityTrait>(qs: &QuerySet<E>) -> (Expr, SelectStatement) {
    use sea_orm::sea_query::Alias;
    use sea_orm::{Iterable, PrimaryKeyToColumn, QuerySelect, QueryTrait};
    let pks: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    let inner = qs
        .build()
        .select_only()
        .columns(pks.iter().copied())
        .into_query();
    let mut outer = Query::select();
    outer
        .exprs(pks.iter().map(|c| {
            Expr::col((
                Alias::new("duetto_part"),
                Alias::new(sea_orm::IdenStatic::as_str(c)),
            ))
        }))
        .from_subquery(inner, Alias::new("duetto_part"));
    let key: Vec<Expr> = pks.iter().map(|c| Expr::col((E::default(), *c))).collect();
    let key = if key.len() == 1 {
        key.into_iter().next().expect("one")
    } else {
        Expr::tuple(key)
    };
    (key, outer)
}

impl<E: EntityTrait> QuerySet<E> {
    /// The rows of this queryset or `other`, each once (Django's `union`): a new queryset on
    /// this one's database, which may be filtered, ordered and sliced further. Written as
    /// `pk IN (…) OR pk IN (…)`, so each side keeps its own filters, order and slice.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::user;
    /// let a = user::Entity::objects().filter(user::Column::Id.eq(1));
    /// let b = user::Entity::objects().filter(user::Column::Id.lte(2));
    /// assert_eq!(a.union(&b).acount().await?, 2);
    /// assert_eq!(a.intersection(&b).acount().await?, 1);
    /// assert_eq!(b.difference(&a).alist().await?[0].id, 2);
    /// # Ok(()) });
    /// ```
    pub fn union(&self, other: &QuerySet<E>) -> QuerySet<E> {
        let (key, mine) = primary_keys(self);
        let (_, theirs) = primary_keys(other);
        self.combined(
            Condition::any()
                .add(key.clone().in_subquery(mine))
                .add(key.in_subquery(theirs)),
        )
    }

    /// The rows in both this queryset and `other` (Django's `intersection`); see
    /// [`union`](Self::union).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let both = entity::user::Entity::objects().intersection(&entity::user::Entity::objects());
    /// # let _ = both;
    /// ```
    pub fn intersection(&self, other: &QuerySet<E>) -> QuerySet<E> {
        let (key, mine) = primary_keys(self);
        let (_, theirs) = primary_keys(other);
        self.combined(
            Condition::all()
                .add(key.clone().in_subquery(mine))
                .add(key.in_subquery(theirs)),
        )
    }

    /// The rows of this queryset that are not in `other` (Django's `difference`); see
    /// [`union`](Self::union).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let none = entity::user::Entity::objects().difference(&entity::user::Entity::objects());
    /// # let _ = none;
    /// ```
    pub fn difference(&self, other: &QuerySet<E>) -> QuerySet<E> {
        let (key, mine) = primary_keys(self);
        let (_, theirs) = primary_keys(other);
        self.combined(
            Condition::all()
                .add(key.clone().in_subquery(mine))
                .add(key.not_in_subquery(theirs)),
        )
    }

    /// A fresh queryset of `E` on this one's database, keeping rows matching `cond`.
    fn combined(&self, cond: Condition) -> QuerySet<E> {
        <E as crate::Objects>::objects()
            .using(self.using.clone())
            .filter(cond)
    }
}
