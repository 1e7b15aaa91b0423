-- One row: the successful-completion percentage for adults in treatment for alcohol only,
-- for one area and one financial year, persons, as published by OHID (Fingertips 92447).
-- Fingertips wins; NDTMS ViewIt exports (successful completions not re-presenting within
-- 6 months over the number in treatment, the same C19 definition) fill areas and years it lacks.
WITH fingertips AS (
    SELECT * FROM staged.observations WHERE series = 'fingertips:92447' AND sex = 'Persons'
), ndtms AS (
    SELECT n.* FROM staged.observations AS n
    WHERE n.series = 'ndtms:successful_completion_no_representation_alcohol' AND n.sex = 'Persons'
      AND NOT EXISTS (SELECT 1 FROM fingertips AS f
                      WHERE f.area_code = n.area_code AND f.period_label = n.period_label)
)
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM (SELECT * FROM fingertips UNION ALL BY NAME SELECT * FROM ndtms)
