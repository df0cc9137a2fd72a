#include "avr_pwm.h"

#include <avr/io.h>

#define PWM_STEPS 256u
#define DUTY_STEPS 65536ul

void avr_pwm_init(const avr_pwm *pwm) {
    uint8_t ch;
    TCCR0A = (uint8_t)(_BV(WGM01) | _BV(WGM00)); /* fast PWM, TOP 0xFF */
    TCCR0B = (uint8_t)(_BV(CS01) | _BV(CS00));   /* clk/64 */
    TCCR1A = (uint8_t)_BV(WGM10);                /* fast PWM 8-bit */
    TCCR1B = (uint8_t)(_BV(WGM12) | _BV(CS11) | _BV(CS10));
    TCCR2A = (uint8_t)(_BV(WGM21) | _BV(WGM20));
    TCCR2B = (uint8_t)_BV(CS22); /* clk/64 on timer 2 */
    DDRD |= (uint8_t)(_BV(PD3) | _BV(PD5) | _BV(PD6));
    DDRB |= (uint8_t)(_BV(PB1) | _BV(PB2) | _BV(PB3));
    for (ch = 0; ch < pwm->n_channels; ch++) {
        *pwm->channels[ch].port &= (uint8_t)~pwm->channels[ch].pin_mask;
    }
}

void avr_pwm_write(const avr_pwm *pwm, const uint16_t *duty, uint8_t n) {
    uint8_t ch;
    for (ch = 0; ch < n && ch < pwm->n_channels; ch++) {
        const avr_pwm_channel *c = &pwm->channels[ch];
        /* fast PWM is high for OCR + 1 of 256 steps: on-fraction (OCR + 1) / 256 ~ duty / 65536 */
        uint16_t steps = (uint16_t)(((uint32_t)duty[ch] * PWM_STEPS + DUTY_STEPS / 2u) / DUTY_STEPS);
        if (steps == 0 || steps >= PWM_STEPS) { /* fully off or on: the pin is driven by PORT, no PWM edges */
            *c->tccra &= (uint8_t)~c->com_bit;
            if (steps == 0) {
                *c->port &= (uint8_t)~c->pin_mask;
            } else {
                *c->port |= c->pin_mask;
            }
        } else {
            *c->ocr = (uint8_t)(steps - 1u);
            *c->tccra |= c->com_bit;
        }
    }
}
