-- One row: take-home naloxone kits dispensed per 100 people using opiates, for one local authority
-- (named in Release's survey; codes resolved by the build) and one financial year, as Release
-- published it from the authority's Freedom of Information answer. Empty when no Release file is
-- in the raw cache (the source has no downloadable file).
SELECT area_code, area_name, period_label, period_start, period_end,
       value, lower_ci_95, upper_ci_95, lower_ci_998, upper_ci_998,
       numerator, denominator, is_suppressed, value_note,
       source_id, source_file, edition, publisher_comparison
FROM staged.observations
WHERE series = 'release_foi:kits_per_100_ocu'
