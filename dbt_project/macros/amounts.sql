{#
    An amount in yuan (decimal, 2 places) divided by a count, rounded half away from zero to
    the fen, the same on every engine: DuckDB divides decimals in double and casts the binary
    result (2610.345 became 2610.34), Spark divides them exactly (2610.35). Here the total in
    fen, an exact integer, is divided in double, so a half-fen quotient is exact and round()
    settles it alike on both; the fen go back to yuan by a decimal product, which is exact.
    Null when the count is 0.
#}
{% macro amount_per(total, count) -%}
    case
        when {{ count }} <> 0
            then cast(
                round(cast({{ total }} * 100 as double) / {{ count }}) as decimal(38, 0)
            ) * 0.01
    end
{%- endmacro %}
