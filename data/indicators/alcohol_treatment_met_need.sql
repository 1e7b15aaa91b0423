-- One row: adults in treatment for alcohol as a percentage of the estimated number of alcohol-dependent
-- adults ("met need"), for one area and one financial year, as ONS derived it for UK SDG indicator 3.5.1.
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM staged.observations
WHERE series = 'ons_sdg:alcohol_met_need'
