// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title UtcDate
 * @notice The UTC calendar date of a unix timestamp as the integer YYYYMMDD, the date format of the
 * eligibility circuit (YYYYMMDD integers compare like dates, and adding N * 10000 moves a date N
 * years forward, which is how the circuit checks an age).
 *
 * Days since 1970-01-01 are converted to a proleptic Gregorian (year, month, day) by Howard
 * Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"): days are shifted
 * to start on 0000-03-01, so that a 400-year era has a fixed 146,097 days and the leap day is the
 * last day of a March-based year. Timestamps are unsigned, so only the non-negative branch of the
 * algorithm is needed.
 */
library UtcDate {
    uint256 private constant SECONDS_PER_DAY = 86_400;
    /// @dev Days from 0000-03-01 to 1970-01-01.
    uint256 private constant EPOCH_SHIFT = 719_468;
    uint256 private constant DAYS_PER_ERA = 146_097;

    /**
     * @notice The UTC date of `timestamp` as YYYYMMDD (e.g. 951782400 -> 20000229).
     * @param timestamp Seconds since 1970-01-01T00:00:00Z.
     * @return date year * 10000 + month * 100 + day.
     */
    function yyyymmdd(uint256 timestamp) internal pure returns (uint256 date) {
        (uint256 year, uint256 month, uint256 day) = civilFromDays(timestamp / SECONDS_PER_DAY);
        return year * 10_000 + month * 100 + day;
    }

    /**
     * @notice Howard Hinnant's civil_from_days for days >= 0 since 1970-01-01.
     * @param daysSinceEpoch Whole days since 1970-01-01.
     * @return year Gregorian year; month 1..12; day 1..31.
     */
    function civilFromDays(uint256 daysSinceEpoch) internal pure returns (uint256 year, uint256 month, uint256 day) {
        uint256 z = daysSinceEpoch + EPOCH_SHIFT;
        uint256 era = z / DAYS_PER_ERA;
        uint256 doe = z - era * DAYS_PER_ERA; // day of era, [0, 146096]
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, [0, 365]
        uint256 mp = (5 * doy + 2) / 153; // month from March, [0, 11]
        day = doy - (153 * mp + 2) / 5 + 1;
        month = mp < 10 ? mp + 3 : mp - 9;
        year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    }
}
