/* Actuator state: smoothing between frames at the update rate, effects, per-channel caps, a thermal duty
 * limit and the watchdog. Pure: time comes in as milliseconds (wrapping uint32), outputs go out in duty[]. */
#ifndef SENSE_ACTUATORS_H
#define SENSE_ACTUATORS_H
#include <stdint.h>

#include "sense_config.h"

#define SENSE_FULL_SCALE 65535u
#define SENSE_DEFAULT_SMOOTHING_MS 16u
#define SENSE_MAX_SMOOTHING_MS 1000u
#define SENSE_DEFAULT_WATCHDOG_MS 100u
#define SENSE_MIN_WATCHDOG_MS 20u
#define SENSE_MAX_WATCHDOG_MS 140u /* + one update period (<= 10 ms) stays within the 150 ms promise */
#define SENSE_DEFAULT_THERMAL_TAU_MS 2000u
#define SENSE_MIN_THERMAL_TAU_MS 100u
#define SENSE_THERMAL_MAX_STEP_MS 100u /* longer gaps between ticks are integrated as this */

typedef struct {
    uint16_t smoothing_ms;
    uint16_t watchdog_ms;
    uint16_t thermal_limit; /* highest running-average duty, 0..65535 */
    uint16_t thermal_tau_ms;
    uint16_t cap[SENSE_MAX_CHANNELS];
} sense_limits;

typedef struct {
    uint8_t kind; /* enum sense_effect */
    uint16_t intensity;
    uint16_t duration_ms;
    uint32_t start_ms;
} sense_effect_state;

typedef struct {
    uint8_t n_channels;
    sense_limits hard;   /* built into the firmware: the host can never exceed these */
    sense_limits config; /* what the host asked for, clamped to hard */
    uint16_t ramp_from[SENSE_MAX_CHANNELS];
    uint16_t target[SENSE_MAX_CHANNELS];
    uint16_t level[SENSE_MAX_CHANNELS]; /* smoothed stream level */
    uint16_t duty[SENSE_MAX_CHANNELS];  /* final output after effects, caps and the thermal limit */
    int32_t thermal_avg_q8[SENSE_MAX_CHANNELS]; /* running-average duty << 8 */
    sense_effect_state effect[SENSE_MAX_CHANNELS];
    uint32_t ramp_start_ms;
    uint32_t last_tick_ms;
    uint32_t last_frame_ms;
    uint8_t watchdog_armed;
    uint32_t watchdog_trips;
    uint32_t thermal_limited_ms;
} sense_actuators;

/* hard_caps: n_channels values (NULL = full scale). */
void sense_actuators_init(sense_actuators *act, uint8_t n_channels, const uint16_t *hard_caps,
                          uint16_t hard_thermal_limit, uint32_t now_ms);
/* Apply a CONFIG: every value is clamped to the hard limits; caps beyond n_caps stay as they are. */
void sense_actuators_configure(sense_actuators *act, uint16_t smoothing_ms, uint16_t watchdog_ms,
                               uint16_t thermal_limit, uint16_t thermal_tau_ms, const uint16_t *caps,
                               uint8_t n_caps, uint32_t now_ms);
/* New targets (n <= n_channels; the rest go to 0), reached by a linear ramp over smoothing_ms. */
void sense_actuators_set_targets(sense_actuators *act, const uint16_t *values, uint8_t n, uint32_t now_ms);
/* Start an effect on one channel or on all (SENSE_ALL_CHANNELS). Returns 0 if channel/effect is invalid. */
int sense_actuators_play(sense_actuators *act, uint8_t channel, uint8_t kind, uint16_t intensity,
                         uint16_t duration_ms, uint32_t now_ms);
/* Zero every target and level and cancel effects: duty[] follows at the next tick, without a ramp. */
void sense_actuators_stop(sense_actuators *act);
/* Note an accepted control frame: restarts the watchdog. */
void sense_actuators_feed_watchdog(sense_actuators *act, uint32_t now_ms);
/* Advance to now_ms: watchdog, ramps, effects, caps, thermal limit. Returns 1 if any duty changed. */
int sense_actuators_tick(sense_actuators *act, uint32_t now_ms);

#endif
