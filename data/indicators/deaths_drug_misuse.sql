-- One row: the age-standardised rate of deaths related to drug misuse for one area and one
-- 3-year period of registration, persons, with ONS's 95% limits and the death count.
-- ONS workbooks win; Fingertips 92432 (the same ONS measure) only fills periods they lack.
WITH ons AS (
    SELECT * FROM staged.observations
    WHERE series = 'ons_deaths:misuse_3yr' AND sex = 'Persons'
), fingertips AS (
    SELECT f.* FROM staged.observations AS f
    WHERE f.series = 'fingertips:92432' AND f.sex = 'Persons'
      AND NOT EXISTS (SELECT 1 FROM ons WHERE ons.area_code = f.area_code AND ons.period_label = f.period_label)
)
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM (SELECT * FROM ons UNION ALL BY NAME SELECT * FROM fingertips)
