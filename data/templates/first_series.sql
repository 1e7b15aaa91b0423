-- Template "first_series". One row: the indicator's figure for one area and one period, persons, taken from the
-- first of the indicator's series (in the order its catalogue entry lists them, `series`) that has a row for that
-- area and period; a later series only fills areas and periods the earlier ones lack. What the figure means is
-- the catalogue entry's `definition`. Parameter $series: the staged series ids, in order of preference.
WITH wanted AS (
    SELECT unnest($series) AS series, generate_subscripts($series, 1) AS preference
), candidates AS (
    SELECT o.*, w.preference, o.rowid AS staged_row
    FROM staged.observations AS o JOIN wanted AS w USING (series)
    WHERE o.sex IN ('Persons', '')
)
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM candidates
QUALIFY preference = min(preference) OVER (PARTITION BY area_code, period_label)
ORDER BY preference, staged_row
