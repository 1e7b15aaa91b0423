-- One row: the age-standardised rate of deaths related to drug poisoning (any drug, legal or
-- illegal) for one area and one 3-year period of registration, persons, with ONS's 95% limits.
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM staged.observations
WHERE series = 'ons_deaths:poisoning_3yr' AND sex = 'Persons'
