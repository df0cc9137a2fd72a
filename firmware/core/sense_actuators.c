#include "sense_actuators.h"

#include <string.h>

#include "sense_protocol.h"

#define RAMP_DONE_Q15 32768
#define THERMAL_ALPHA_MAX_Q16 32768

static uint16_t clamp_u16(uint16_t value, uint16_t low, uint16_t high) {
    return value < low ? low : (value > high ? high : value);
}

void sense_actuators_init(sense_actuators *act, uint8_t n_channels, const uint16_t *hard_caps,
                          uint16_t hard_thermal_limit, uint32_t now_ms) {
    uint8_t ch;
    memset(act, 0, sizeof(*act));
    act->n_channels = n_channels > SENSE_MAX_CHANNELS ? SENSE_MAX_CHANNELS : n_channels;
    act->hard.smoothing_ms = SENSE_MAX_SMOOTHING_MS;
    act->hard.watchdog_ms = SENSE_MAX_WATCHDOG_MS;
    act->hard.thermal_limit = hard_thermal_limit;
    act->hard.thermal_tau_ms = SENSE_DEFAULT_THERMAL_TAU_MS;
    for (ch = 0; ch < act->n_channels; ch++) {
        act->hard.cap[ch] = hard_caps ? hard_caps[ch] : (uint16_t)SENSE_FULL_SCALE;
    }
    act->config = act->hard;
    act->config.smoothing_ms = SENSE_DEFAULT_SMOOTHING_MS;
    act->config.watchdog_ms = SENSE_DEFAULT_WATCHDOG_MS;
    act->ramp_start_ms = act->last_tick_ms = act->last_frame_ms = now_ms;
}

void sense_actuators_configure(sense_actuators *act, uint16_t smoothing_ms, uint16_t watchdog_ms,
                               uint16_t thermal_limit, uint16_t thermal_tau_ms, const uint16_t *caps,
                               uint8_t n_caps, uint32_t now_ms) {
    uint8_t ch;
    act->config.smoothing_ms = clamp_u16(smoothing_ms, 0, act->hard.smoothing_ms);
    act->config.watchdog_ms = clamp_u16(watchdog_ms, SENSE_MIN_WATCHDOG_MS, act->hard.watchdog_ms);
    act->config.thermal_limit = clamp_u16(thermal_limit, 0, act->hard.thermal_limit);
    /* a longer time constant would let a channel run hot for longer before the limit engages: only shorter */
    act->config.thermal_tau_ms = clamp_u16(thermal_tau_ms, SENSE_MIN_THERMAL_TAU_MS, act->hard.thermal_tau_ms);
    for (ch = 0; ch < n_caps && ch < act->n_channels; ch++) {
        act->config.cap[ch] = clamp_u16(caps[ch], 0, act->hard.cap[ch]);
    }
    sense_actuators_feed_watchdog(act, now_ms);
}

void sense_actuators_feed_watchdog(sense_actuators *act, uint32_t now_ms) {
    act->last_frame_ms = now_ms;
    act->watchdog_armed = 1;
}

void sense_actuators_set_targets(sense_actuators *act, const uint16_t *values, uint8_t n, uint32_t now_ms) {
    uint8_t ch;
    for (ch = 0; ch < act->n_channels; ch++) {
        act->ramp_from[ch] = act->level[ch];
        act->target[ch] = ch < n ? values[ch] : 0;
    }
    act->ramp_start_ms = now_ms;
    sense_actuators_feed_watchdog(act, now_ms);
}

int sense_actuators_play(sense_actuators *act, uint8_t channel, uint8_t kind, uint16_t intensity,
                         uint16_t duration_ms, uint32_t now_ms) {
    uint8_t ch;
    if (kind >= SENSE_EFFECT_COUNT || (channel != SENSE_ALL_CHANNELS && channel >= act->n_channels)) {
        return 0;
    }
    for (ch = 0; ch < act->n_channels; ch++) {
        if (channel == SENSE_ALL_CHANNELS || channel == ch) {
            act->effect[ch].kind = kind;
            act->effect[ch].intensity = intensity;
            act->effect[ch].duration_ms = duration_ms;
            act->effect[ch].start_ms = now_ms;
        }
    }
    sense_actuators_feed_watchdog(act, now_ms);
    return 1;
}

void sense_actuators_stop(sense_actuators *act) {
    memset(act->ramp_from, 0, sizeof(act->ramp_from));
    memset(act->target, 0, sizeof(act->target));
    memset(act->level, 0, sizeof(act->level));
    memset(act->effect, 0, sizeof(act->effect));
}

static uint16_t effect_level(sense_effect_state *effect, uint32_t now_ms) {
    uint32_t elapsed = now_ms - effect->start_ms;
    uint32_t intensity = effect->intensity, duration = effect->duration_ms;
    if (effect->kind == SENSE_EFFECT_CANCEL) {
        return 0;
    }
    if (elapsed >= duration) {
        effect->kind = SENSE_EFFECT_CANCEL;
        return 0;
    }
    switch (effect->kind) {
    case SENSE_EFFECT_CONSTANT:
        return (uint16_t)intensity;
    case SENSE_EFFECT_CLICK:
        return elapsed < SENSE_CLICK_MS ? (uint16_t)intensity : 0;
    case SENSE_EFFECT_RAMP_UP:
        return (uint16_t)(intensity * elapsed / duration);
    case SENSE_EFFECT_RAMP_DOWN:
        return (uint16_t)(intensity * (duration - elapsed) / duration);
    case SENSE_EFFECT_PULSE:
        return ((elapsed / SENSE_PULSE_HALF_PERIOD_MS) % 2u == 0) ? (uint16_t)intensity : 0;
    default:
        return 0;
    }
}

/* Ramp progress in Q15 (0..32768): one division per tick, shared by every channel. */
static int32_t ramp_progress_q15(const sense_actuators *act, uint32_t now_ms) {
    uint32_t elapsed = now_ms - act->ramp_start_ms;
    if (act->config.smoothing_ms == 0 || elapsed >= act->config.smoothing_ms) {
        return RAMP_DONE_Q15;
    }
    return (int32_t)((elapsed << 15) / act->config.smoothing_ms);
}

static uint16_t smoothed_level(const sense_actuators *act, uint8_t ch, int32_t progress_q15) {
    int32_t from = act->ramp_from[ch], to = act->target[ch];
    if (progress_q15 >= RAMP_DONE_Q15) {
        return (uint16_t)to;
    }
    /* |to - from| < 2^16 and progress < 2^15: the product fits in int32 */
    return (uint16_t)(from + (((to - from) * progress_q15) >> 15));
}

int sense_actuators_tick(sense_actuators *act, uint32_t now_ms) {
    uint32_t dt_ms = now_ms - act->last_tick_ms;
    int32_t progress_q15, alpha_q16;
    int changed = 0;
    uint8_t ch;
    act->last_tick_ms = now_ms;
    if (dt_ms > SENSE_THERMAL_MAX_STEP_MS) {
        dt_ms = SENSE_THERMAL_MAX_STEP_MS;
    }
    if (act->watchdog_armed && now_ms - act->last_frame_ms > act->config.watchdog_ms) {
        act->watchdog_armed = 0;
        act->watchdog_trips++;
        sense_actuators_stop(act);
        act->ramp_start_ms = now_ms;
    }
    progress_q15 = ramp_progress_q15(act, now_ms);
    /* running-average step dt / tau in Q16, at most one half (dt <= 100 ms, tau >= 100 ms) */
    alpha_q16 = (int32_t)((dt_ms << 16) / act->config.thermal_tau_ms);
    if (alpha_q16 > THERMAL_ALPHA_MAX_Q16) {
        alpha_q16 = THERMAL_ALPHA_MAX_Q16;
    }
    for (ch = 0; ch < act->n_channels; ch++) {
        uint16_t effect, duty, limit = act->config.thermal_limit;
        int32_t target_q8;
        act->level[ch] = smoothed_level(act, ch, progress_q15);
        effect = effect_level(&act->effect[ch], now_ms);
        duty = act->level[ch] > effect ? act->level[ch] : effect;
        if (duty > act->config.cap[ch]) {
            duty = act->config.cap[ch];
        }
        if (act->thermal_avg_q8[ch] > ((int32_t)limit << 8) && duty > limit) {
            duty = limit;
            act->thermal_limited_ms += dt_ms;
        }
        target_q8 = (int32_t)duty << 8;
        /* (difference >> 8) < 2^16 in magnitude, alpha <= 2^15: the product fits in int32 */
        act->thermal_avg_q8[ch] += (((target_q8 - act->thermal_avg_q8[ch]) >> 8) * alpha_q16) >> 8;
        changed |= act->duty[ch] != duty;
        act->duty[ch] = duty;
    }
    return changed;
}
