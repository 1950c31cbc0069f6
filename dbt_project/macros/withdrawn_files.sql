{#
    Rows of landing files that were withdrawn are left out of staging. A file is withdrawn when
    it was refused by a blocking check (a raw gate, or the volume check while its rows were not
    yet published) and then removed or replaced in the landing folder: removing the bad file is
    how a user fixes a blocked delivery (pipelines/quality/gate_state.py, docs/operations.md).
    Raw keeps the rows (it is append-only); quality.withdrawn_files lists the files by sha256.
    The table exists once a quality gate has run; without it nothing is withdrawn. (not exists,
    not "not in": a row without _sha256, as in dbt unit-test fixtures, is never dropped.)
#}
{% macro not_withdrawn(entity) -%}
    {%- set withdrawn = none -%}
    {%- if execute -%}
        {%- set withdrawn = adapter.get_relation(
            database=target.database, schema='quality', identifier='withdrawn_files') -%}
    {%- endif -%}
    {%- if withdrawn is none -%}
        true
    {%- else -%}
        not exists (
            select 1 from {{ withdrawn }} as w
            where w.entity = '{{ entity }}' and w.sha256 = _sha256
        )
    {%- endif -%}
{%- endmacro %}
