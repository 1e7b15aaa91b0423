-- One row: the estimated rate of opiate and/or crack cocaine use per 1,000 aged 15-64 for one
-- area and one estimate year. The GOV.UK estimate workbook wins; Fingertips 91117 fills other years.
WITH workbook AS (
    SELECT * FROM staged.observations WHERE series = 'prevalence:ocu' AND sex IN ('Persons', '')
), fingertips AS (
    SELECT f.* FROM staged.observations AS f
    WHERE f.series = 'fingertips:91117' AND f.sex = 'Persons'
      AND NOT EXISTS (SELECT 1 FROM workbook AS w WHERE w.area_code = f.area_code AND w.period_label = f.period_label)
)
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM (SELECT * FROM workbook UNION ALL BY NAME SELECT * FROM fingertips)
