"""Matching features per CRM account record, computed in DuckDB SQL from the staging models.

Columns (one row per current record, ``unique_id`` = account_id):

- ``name_key``: the staging matching key (upper-case, punctuation and legal form removed);
- ``name_core``: the name without region words and legal form, so 杭州云启科技有限公司,
  杭州云启科技 and 云启科技(杭州) all give 云启科技; a branch office's own suffix
  (上海分公司) is removed too and flagged by ``is_branch`` instead;
- ``name_records``: how many records carry this name core (a placeholder name typed for
  hundreds of customers is no evidence that two of them are one company);
- ``name_bigrams``: character bigrams of ``name_core`` (n-gram evidence for typos);
- ``uscc`` (valid codes only), ``uscc_any`` (any 18-character code as typed, valid or not:
  blocked on by its thirds, to find codes one character off);
- ``province``, ``city`` (canonical, from staging);
- ``phones`` / ``email_domains``: the record's contacts' E.164 numbers and company email
  domains reduced to the organisation's label (yunqi.com and yunqi.cn are one; free-mail
  domains left out). Personal data: used as match evidence inside the
  matching step only, never written out, logged or shown.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

_LEGAL_FORM = "(股份有限公司|有限责任公司|有限公司|公司)$"
_GROUP_WORDS = "(控股集团|集团|控股)$"
_BRANCH = "(分公司|分店|办事处|分部)$"


def region_pattern(con: duckdb.DuckDBPyConnection) -> str:
    """Regex alternation of every province and city name and alias, longest first.

    Taken from the region seed plus the canonical places present in the accounts, so a city
    outside the seed is still recognised in names of its own records.
    """
    rows = con.execute(
        """
        select distinct name from (
            select unnest([province, province_alias, city, city_alias]) as name
            from staging.china_regions
            union all
            select unnest([city, regexp_replace(city, '市$', ''),
                           province, regexp_replace(province, '(省|市)$', '')]) as name
            from staging.stg_crm__accounts
        )
        where name is not null and length(name) >= 2
        """
    ).fetchall()
    names = sorted({r[0] for r in rows}, key=lambda s: (-len(s), s))
    return "|".join(re.escape(n) for n in names) or "(?!)"


def _names_sql(regions_sql: str) -> str:
    """CTEs ``accounts`` -> ``branched`` -> ``cored``: codes and the name core per record."""
    return f"""
    accounts as (
        select
            account_id,
            name_key,
            upper(regexp_replace(coalesce(account_name, ''), '\\s', '', 'g')) as name_upper,
            uscc,
            case
                when uscc is not null then uscc
                when length(regexp_replace(coalesce(uscc_raw, ''), '[^0-9A-Za-z]', '', 'g')) = 18
                    then upper(regexp_replace(uscc_raw, '[^0-9A-Za-z]', '', 'g'))
            end as uscc_any,
            province,
            city,
            created_at
        from staging.stg_crm__accounts
    ),

    branched as (
        select
            *,
            regexp_matches(name_upper, '{_BRANCH}') as is_branch,
            -- 云启科技(杭州) -> 云启科技; ...有限公司上海分公司 -> ...有限公司
            regexp_replace(
                regexp_replace(name_upper, '(({regions_sql})?{_BRANCH})', ''),
                '\\(({regions_sql})\\)', '', 'g'
            ) as name_trimmed
        from accounts
    ),

    cored as (
        select
            *,
            nullif(
                regexp_replace(
                    regexp_replace(
                        regexp_replace(
                            regexp_replace(
                                regexp_replace(name_trimmed, '[^0-9A-Z\\p{{Han}}]', '', 'g'),
                                '{_LEGAL_FORM}', ''
                            ),
                            '{_GROUP_WORDS}', ''
                        ),
                        '^({regions_sql})({regions_sql})?', ''
                    ),
                    '({regions_sql})$', ''
                ),
                ''
            ) as name_core
        from branched
    ),

"""


def _contacts_sql(domains: str) -> str:
    """CTE ``contacts``: per record, its contacts' phones and company email domain labels."""
    return f"""
    contacts as (
        select
            account_id,
            list_sort(list_distinct(list(phone_e164) filter (where phone_e164 is not null)))
                as phones,
            -- the organisation's label: yunqi.com, yunqi.cn, mail.yunqi.com.cn -> yunqi
            list_sort(list_distinct(list(
                regexp_extract(
                    regexp_replace(split_part(email, '@', 2), '(\\.(com|net|org|gov|edu))?\\.(cn|com|net|org)$', ''),
                    '([^.]+)$'
                )
            ) filter (
                where email is not null and split_part(email, '@', 2) not in ({domains})
            ))) as email_domains
        from staging.stg_crm__contacts
        group by account_id
    )
"""


def features_sql(regions: str, personal_domains: list[str]) -> str:
    """The SELECT producing the matching features (see module docstring)."""
    domains = ", ".join("'" + d.replace("'", "''") + "'" for d in personal_domains) or "''"
    return f"""
    with

    {_names_sql(regions.replace("'", "''"))}

    {_contacts_sql(domains)}

    select
        cored.account_id as unique_id,
        cored.name_key,
        coalesce(cored.name_core, cored.name_key) as name_core,
        case when length(coalesce(cored.name_core, cored.name_key)) >= 2 then
            list_transform(
                range(1, length(coalesce(cored.name_core, cored.name_key))),
                lambda i: substr(coalesce(cored.name_core, cored.name_key), i, 2)
            )
        end as name_bigrams,
        count(*) over (partition by coalesce(cored.name_core, cored.name_key)) as name_records,
        cored.is_branch,
        cored.uscc,
        cored.uscc_any,
        cored.province,
        cored.city,
        nullif(contacts.phones, []) as phones,
        nullif(contacts.email_domains, []) as email_domains,
        cored.created_at
    from cored
    left join contacts
        on cored.account_id = contacts.account_id
    order by cored.account_id
    """


def read_features(con: duckdb.DuckDBPyConnection, personal_domains: list[str]) -> pa.Table:
    """Matching features of every current CRM account record, ordered by account_id."""
    sql = features_sql(region_pattern(con), personal_domains)
    return con.sql(sql).to_arrow_table()
