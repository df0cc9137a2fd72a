/* Hardware PWM on the ATmega328P's three timers (six OCnx pins), described by a context struct. */
#ifndef AVR_PWM_H
#define AVR_PWM_H
#include <stdint.h>

typedef struct {
    volatile uint8_t *ocr;   /* compare register, e.g. &OCR0A */
    volatile uint8_t *tccra; /* the timer's control register A holding the COM bits */
    uint8_t com_bit;         /* COMnx1: non-inverting PWM output connected when set */
    volatile uint8_t *port;  /* PORTx of the pin, driven low while the channel is off */
    uint8_t pin_mask;
} avr_pwm_channel;

typedef struct {
    const avr_pwm_channel *channels;
    uint8_t n_channels;
} avr_pwm;

/* Timers 0, 1 and 2 in 8-bit fast PWM at F_CPU/64/256 (976.5625 Hz at 16 MHz); pins as outputs, low. */
void avr_pwm_init(const avr_pwm *pwm);
/* duty: 0..65535 per channel. Fully off/on disconnect the pin from the timer and hold it low/high (fast PWM
 * would otherwise leave a 1-cycle spike at OCR = 0). */
void avr_pwm_write(const avr_pwm *pwm, const uint16_t *duty, uint8_t n);

#endif
