-- One row: the successful-completion percentage for adults in treatment for non-opiate drugs only,
-- for one area and one financial year, persons, as published by OHID (Fingertips 90245).
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM staged.observations
WHERE series = 'fingertips:90245' AND sex = 'Persons'
