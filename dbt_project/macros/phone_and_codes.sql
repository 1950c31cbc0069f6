{#
    Chinese phone numbers to E.164 (+86...). Input: the digits of the number only (see
    staging: every non-digit removed first, so "+86-138 0013 8000", "138-0013-8000" and
    "0571-8888 6666" all arrive as digit strings).
      * a leading 0086 or 86 (when 11-13 digits long) is the country code and is removed;
      * mobile: 11 digits 1[3-9]xxxxxxxxx                 -> +86 1xxxxxxxxxx
      * landline with trunk 0: 0 + area code + number     -> +86 <area><number> (0 dropped)
      * landline after a country code (no trunk 0), 9-11 digits -> +86 <digits>
      * anything else (too short, no area code) -> null; the raw value stays in phone_raw.
#}
{% macro phone_e164_from_digits(digits) -%}
    {%- set has_cc -%}
        ({{ digits }} like '0086%' or ({{ digits }} like '86%' and length({{ digits }}) between 11 and 13))
    {%- endset -%}
    {%- set national -%}
        (case
            when {{ digits }} like '0086%' then substr({{ digits }}, 5)
            when {{ digits }} like '86%' and length({{ digits }}) between 11 and 13 then substr({{ digits }}, 3)
            else {{ digits }}
        end)
    {%- endset -%}
    case
        when {{ regex_full_match(national, '1[3-9][0-9]{9}') }} then '+86' || {{ national }}
        when {{ regex_full_match(national, '0[1-9][0-9]{8,10}') }} then '+86' || substr({{ national }}, 2)
        when {{ has_cc }} and {{ regex_full_match(national, '[1-9][0-9]{8,10}') }} then '+86' || {{ national }}
    end
{%- endmacro %}

{#
    Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from the
    31-character set 0-9 A-H J-N P-R T U W-Y; the last is a check character:
    check = 31 - (sum(value(c_i) * w_i for i in 1..17) mod 31), 31 -> 0,
    w = 3^(i-1) mod 31. Returns a boolean expression; expects a trimmed, upper-cased code.
#}
{% macro uscc_is_valid(code) -%}
    {%- set charset = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
    {%- set weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] -%}
    (
        length({{ code }}) = 18
        and {{ regex_full_match(code, '[0-9ABCDEFGHJKLMNPQRTUWXY]{18}') }}
        and (position(substr({{ code }}, 18, 1) in '{{ charset }}') - 1) = mod(
            31 - mod(
                {%- for w in weights %}
                (position(substr({{ code }}, {{ loop.index }}, 1) in '{{ charset }}') - 1) * {{ w }}{{ ' +' if not loop.last }}
                {%- endfor %},
                31
            ),
            31
        )
    )
{%- endmacro %}

{# Credit ratings ordered best (1) to worst (9); unknown ratings rank null. #}
{% macro credit_rating_rank(expr) -%}
    case {{ expr }}
        when 'AAA' then 1 when 'AA' then 2 when 'A' then 3
        when 'BBB' then 4 when 'BB' then 5 when 'B' then 6
        when 'CCC' then 7 when 'CC' then 8 when 'C' then 9
    end
{%- endmacro %}

{# Inverse of credit_rating_rank. #}
{% macro credit_rating_from_rank(expr) -%}
    case {{ expr }}
        when 1 then 'AAA' when 2 then 'AA' when 3 then 'A'
        when 4 then 'BBB' when 5 then 'BB' when 6 then 'B'
        when 7 then 'CCC' when 8 then 'CC' when 9 then 'C'
    end
{%- endmacro %}
