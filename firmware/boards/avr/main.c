/* The `avr` board: ATmega328P (Arduino Nano/Uno) at 16 MHz, six hardware PWM channels, the link on USART0.
 *
 * Channel -> pin: 0 OC0A/PD6 (D6), 1 OC0B/PD5 (D5), 2 OC1A/PB1 (D9), 3 OC1B/PB2 (D10), 4 OC2A/PB3 (D11),
 * 5 OC2B/PD3 (D3). Timer 0's overflow (every 1.024 ms) is the clock and the update rate (976 Hz).
 * EEPROM: magic, key (32 bytes), boot counter. Baud: SENSE_BAUD (default 500000, exact at 16 MHz with U2X;
 * make BOARD=avr BAUD=115200 for another). */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <stddef.h>

#include "avr_pwm.h"
#include "sense_device.h"

#ifndef SENSE_BAUD
#define SENSE_BAUD 500000UL
#endif
#define AVR_CHANNELS 6u
#define AVR_UPDATE_RATE_HZ 976u
#define AVR_HARD_THERMAL_LIMIT 52000u
#define RX_RING_BYTES 256u /* power of two, at most 256 (uint8_t indices) */
#define RX_CHUNK_BYTES 32u /* bytes handed to the core per call */
#define EEPROM_MAGIC 0x5E45u
#define EEPROM_MAGIC_ADDR ((uint16_t *)0)
#define EEPROM_KEY_ADDR ((uint8_t *)2)
#define EEPROM_BOOT_ADDR ((uint32_t *)(2 + SENSE_KEY_BYTES))
/* Timer 0 overflows every 64 * 256 / 16 MHz = 1024 us: 1 ms plus 24 us, counted in 8 us units like Arduino. */
#define MS_FRACTION_PER_OVERFLOW 3u
#define MS_FRACTION_ONE 125u

typedef struct {
    volatile uint8_t buf[RX_RING_BYTES];
    volatile uint8_t head;
    volatile uint8_t tail;
} rx_ring;

static rx_ring rx;
static volatile uint32_t clock_ms;
static volatile uint8_t clock_fraction;
static sense_device dev;

static const avr_pwm_channel PWM_CHANNELS[AVR_CHANNELS] = {
    {&OCR0A, &TCCR0A, _BV(COM0A1), &PORTD, _BV(PD6)}, {&OCR0B, &TCCR0A, _BV(COM0B1), &PORTD, _BV(PD5)},
    {&OCR1AL, &TCCR1A, _BV(COM1A1), &PORTB, _BV(PB1)}, {&OCR1BL, &TCCR1A, _BV(COM1B1), &PORTB, _BV(PB2)},
    {&OCR2A, &TCCR2A, _BV(COM2A1), &PORTB, _BV(PB3)}, {&OCR2B, &TCCR2A, _BV(COM2B1), &PORTD, _BV(PD3)}};
static const avr_pwm PWM = {PWM_CHANNELS, AVR_CHANNELS};

ISR(USART_RX_vect) {
    uint8_t byte = UDR0;
    uint8_t next = (uint8_t)((rx.head + 1u) & (RX_RING_BYTES - 1u));
    if (next != rx.tail) { /* on overflow the byte is lost; the CRC catches the damaged frame */
        rx.buf[rx.head] = byte;
        rx.head = next;
    }
}

ISR(TIMER0_OVF_vect) {
    uint32_t ms = clock_ms + 1u;
    uint8_t fraction = (uint8_t)(clock_fraction + MS_FRACTION_PER_OVERFLOW);
    if (fraction >= MS_FRACTION_ONE) {
        fraction = (uint8_t)(fraction - MS_FRACTION_ONE);
        ms++;
    }
    clock_fraction = fraction;
    clock_ms = ms;
}

static uint32_t now_ms(void) {
    uint32_t ms;
    uint8_t sreg = SREG;
    cli();
    ms = clock_ms;
    SREG = sreg;
    return ms;
}

static void uart_init(void) {
    UCSR0A = (uint8_t)_BV(U2X0);
    UBRR0 = (uint16_t)((F_CPU + 4UL * SENSE_BAUD) / (8UL * SENSE_BAUD) - 1UL);
    UCSR0B = (uint8_t)(_BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0));
    UCSR0C = (uint8_t)(_BV(UCSZ01) | _BV(UCSZ00)); /* 8N1 */
}

static void uart_send(void *ctx, const uint8_t *bytes, uint16_t n) {
    uint16_t i;
    (void)ctx;
    for (i = 0; i < n; i++) {
        while (!(UCSR0A & _BV(UDRE0))) {
        }
        UDR0 = bytes[i];
    }
}

static int eeprom_store_key(void *ctx, const uint8_t key[SENSE_KEY_BYTES]) {
    uint8_t check[SENSE_KEY_BYTES], i;
    (void)ctx;
    eeprom_update_block(key, EEPROM_KEY_ADDR, SENSE_KEY_BYTES);
    eeprom_update_word(EEPROM_MAGIC_ADDR, EEPROM_MAGIC);
    eeprom_read_block(check, EEPROM_KEY_ADDR, SENSE_KEY_BYTES);
    for (i = 0; i < SENSE_KEY_BYTES; i++) {
        if (check[i] != key[i]) {
            return 0;
        }
    }
    return 1;
}

static void timer_entropy(void *ctx, uint8_t *buf, uint8_t n) {
    uint8_t i;
    (void)ctx;
    for (i = 0; i < n; i++) { /* timer phase when the host's HELLO arrived: weak, but nonces stay unique anyway */
        buf[i] = (uint8_t)(TCNT1L ^ TCNT0 ^ (uint8_t)(clock_ms >> (i & 7u)) ^ rx.head);
    }
}

int main(void) {
    uint8_t key[SENSE_KEY_BYTES];
    uint32_t boot_count, last_tick;
    sense_board_desc desc = {"avr", AVR_CHANNELS, AVR_UPDATE_RATE_HZ, NULL, AVR_HARD_THERMAL_LIMIT, 0};
    sense_board_io io = {NULL, uart_send, eeprom_store_key, timer_entropy};
    int have_key = eeprom_read_word(EEPROM_MAGIC_ADDR) == EEPROM_MAGIC;
    if (have_key) {
        eeprom_read_block(key, EEPROM_KEY_ADDR, SENSE_KEY_BYTES);
    }
    boot_count = eeprom_read_dword(EEPROM_BOOT_ADDR) + 1u;
    eeprom_update_dword(EEPROM_BOOT_ADDR, boot_count);
    desc.boot_count = boot_count;

    avr_pwm_init(&PWM);
    uart_init();
    TIMSK0 = (uint8_t)_BV(TOIE0);
    sei();
    sense_device_init(&dev, &desc, &io, have_key ? key : NULL, 1, now_ms());
    last_tick = now_ms();
    for (;;) {
        uint32_t t;
        uint8_t chunk[RX_CHUNK_BYTES], n = 0;
        while (rx.tail != rx.head && n < RX_CHUNK_BYTES) {
            chunk[n++] = rx.buf[rx.tail];
            rx.tail = (uint8_t)((rx.tail + 1u) & (RX_RING_BYTES - 1u));
        }
        if (n > 0) {
            sense_device_feed(&dev, chunk, n, now_ms());
        }
        t = now_ms();
        if (t != last_tick) {
            last_tick = t;
            if (sense_device_tick(&dev, t)) {
                avr_pwm_write(&PWM, dev.act.duty, dev.act.n_channels);
            }
        }
    }
}
