{#
    Text cleaning shared by the staging models. Dialect-specific calls (regexp_replace with
    flags) are kept here so the models stay portable; translate/trim/upper/lower are standard.
    Patterns are written once, in RE2 syntax (DuckDB); spark_regex() turns one into a Spark
    string literal of the equivalent Java regex.
#}

{#
    A pattern as a Spark SQL string literal: Spark unescapes backslashes in literals (DuckDB
    does not), and Java spells the Han script \p{IsHan} where RE2 says \p{Han}. The patterns
    used here (classes, \s, anchors, alternation) mean the same in both engines.
#}
{% macro spark_regex(pattern) -%}
    '{{ pattern | replace('\\p{Han}', '\\p{IsHan}') | replace('\\', '\\\\') }}'
{%- endmacro %}

{# Remove every character matching a regex class, e.g. whitespace or non-digits. #}
{% macro regex_remove_all(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_remove_all', 'stratum')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_remove_all(expr, pattern) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '', 'g')
{%- endmacro %}

{% macro spark__regex_remove_all(expr, pattern) -%}
    regexp_replace({{ expr }}, {{ spark_regex(pattern) }}, '')
{%- endmacro %}

{#
    Replace the first match of a regex. Only for patterns anchored at the start (^) or the end
    ($) of the string, which match at most once: Spark's regexp_replace always replaces every
    match, so an unanchored pattern would mean different things on the two engines.
#}
{% macro regex_replace_once(expr, pattern, replacement) -%}
    {%- if not (pattern.startswith('^') or pattern.endswith('$')) -%}
        {{ exceptions.raise_compiler_error(
            "regex_replace_once needs a pattern anchored with ^ or $, got " ~ pattern) }}
    {%- endif -%}
    {{ return(adapter.dispatch('regex_replace_once', 'stratum')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_once(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{% macro spark__regex_replace_once(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ spark_regex(pattern) }}, {{ spark_replacement(replacement) }})
{%- endmacro %}

{# True when the whole string matches the regex. #}
{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'stratum')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{# rlike finds a match anywhere: anchored around a group, it must match the whole string. #}
{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike {{ spark_regex('^(?:' ~ pattern ~ ')$') }})
{%- endmacro %}

{#
    Full-width (全角) ASCII letters, digits, brackets and the ideographic space become their
    half-width forms: CRM users type 杭州（ＡＢＣ）科技 and 杭州(ABC)科技 for the same company.
    Only values holding one of them are translated: the others are left as they are, which is
    what translate gives them, and DuckDB's translate with this 70-character set costs about
    20 times a regex search for one of its characters (2 s per million values; most phones,
    emails, credit codes and cities have none). The characters are all non-ASCII, none special
    inside a regex class, so the class is the set itself.
#}
{% macro fullwidth_to_halfwidth(expr) -%}
    {%- set full = '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ（）［］｛｝【】〔〕　＆－．，＋' -%}
    {%- set half = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()[]{}[]() &-.,+' -%}
    case
        when {{ regex_contains(expr, '[' ~ full ~ ']') }} then translate({{ expr }}, '{{ full }}', '{{ half }}')
        else {{ expr }}
    end
{%- endmacro %}

{# True when the regex matches somewhere in the string. #}
{% macro regex_contains(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_contains', 'stratum')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_contains(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_contains(expr, pattern) -%}
    ({{ expr }} rlike {{ spark_regex(pattern) }})
{%- endmacro %}

{# Replace every match of a regex. #}
{% macro regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'stratum')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ spark_regex(pattern) }}, {{ spark_replacement(replacement) }})
{%- endmacro %}

{# A replacement's group references as Java writes them: \1 (RE2) is $1. #}
{% macro spark_replacement(replacement) -%}
    '{{ modules.re.sub('\\\\([0-9])', '$\\1', replacement) }}'
{%- endmacro %}

{#
    Display form of a company name: half-width, trimmed, whitespace next to a Han character
    removed (" 杭州 云启科技 " -> "杭州云启科技"), other runs of whitespace collapsed to one space
    (keeps "ABC Tech"); blank becomes null. Matching never uses it (see company_name_key).
#}
{% macro clean_company_name(expr) -%}
    nullif(trim(
        {{ regex_replace_all(
            regex_replace_all(
                regex_replace_all(fullwidth_to_halfwidth(expr), '\\s+', ' '),
                '(\\p{Han}) ', '\\1'
            ),
            ' (\\p{Han})', '\\1'
        ) }}
    ), '')
{%- endmacro %}

{#
    Matching key of a company name (never displayed): half-width, upper-case, everything but
    letters, digits and Han characters removed (spaces, brackets, punctuation), then the
    legal-form suffix (股份有限公司, 有限责任公司, 有限公司, 公司) and a trailing 集团 removed.
    So 杭州云启科技有限公司, 杭州云启科技股份有限公司, " 杭州 云启科技（集团）有限公司" share
    one key: 杭州云启科技. The longest suffix is listed first so it wins the alternation.
#}
{% macro company_name_key(expr) -%}
    nullif(
        {{ regex_replace_once(
            regex_replace_once(
                regex_remove_all('upper(' ~ fullwidth_to_halfwidth(expr) ~ ')', '[^0-9A-Z\\p{Han}]'),
                '(股份有限公司|有限责任公司|有限公司|公司)$', ''
            ),
            '集团$', ''
        ) }},
        ''
    )
{%- endmacro %}

{# Lower-cased, trimmed email; blanks and strings without "@" become null. #}
{% macro clean_email(expr) -%}
    case
        when position('@' in trim({{ expr }})) > 1 then lower(trim({{ fullwidth_to_halfwidth(expr) }}))
    end
{%- endmacro %}
