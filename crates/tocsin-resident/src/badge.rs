//! Draws the unread-urgent count as a badge onto a tray icon (RGBA pixels), so the
//! count shows on the icon itself where a tray has no room for a label.

/// 3×5 bitmaps of the digits and `+`, one row per byte (low 3 bits, MSB left).
const GLYPHS: [(char, [u8; 5]); 11] = [
    ('0', [0b111, 0b101, 0b101, 0b101, 0b111]),
    ('1', [0b010, 0b110, 0b010, 0b010, 0b111]),
    ('2', [0b111, 0b001, 0b111, 0b100, 0b111]),
    ('3', [0b111, 0b001, 0b111, 0b001, 0b111]),
    ('4', [0b101, 0b101, 0b111, 0b001, 0b001]),
    ('5', [0b111, 0b100, 0b111, 0b001, 0b111]),
    ('6', [0b111, 0b100, 0b111, 0b101, 0b111]),
    ('7', [0b111, 0b001, 0b010, 0b010, 0b010]),
    ('8', [0b111, 0b101, 0b111, 0b101, 0b111]),
    ('9', [0b111, 0b101, 0b111, 0b001, 0b111]),
    ('+', [0b000, 0b010, 0b111, 0b010, 0b000]),
];

const RED: [u8; 4] = [211, 47, 47, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];

/// The badge text: the count, or `9+`.
pub fn label(count: u32) -> String {
    if count > 9 {
        "9+".into()
    } else {
        count.to_string()
    }
}

/// Paints a red disc with `count` in white into the top-right of a square RGBA image.
/// Nothing is drawn for 0.
pub fn draw(rgba: &mut [u8], width: u32, height: u32, count: u32) {
    if count == 0 || width == 0 || height == 0 || rgba.len() < (width * height * 4) as usize {
        return;
    }
    let size = width.min(height) as i64;
    let r = size * 30 / 100;
    let (cx, cy) = (width as i64 - r - 1, r + 1);
    let mut put = |x: i64, y: i64, c: [u8; 4]| {
        if x >= 0 && y >= 0 && x < width as i64 && y < height as i64 {
            let i = ((y * width as i64 + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&c);
        }
    };
    for y in cy - r..=cy + r {
        for x in cx - r..=cx + r {
            if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                put(x, y, RED);
            }
        }
    }
    let text = label(count);
    let scale = (r * 2 / 7).max(1);
    let glyph_w = 3 * scale;
    let gap = scale;
    let total_w = text.len() as i64 * glyph_w + (text.len() as i64 - 1) * gap;
    let (mut x0, y0) = (cx - total_w / 2, cy - 5 * scale / 2);
    for ch in text.chars() {
        if let Some((_, rows)) = GLYPHS.iter().find(|(c, _)| *c == ch) {
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                put(x0 + col * scale + dx, y0 + row as i64 * scale + dy, WHITE);
                            }
                        }
                    }
                }
            }
        }
        x0 += glyph_w + gap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(rgba: &[u8], w: u32, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * w + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]]
    }

    #[test]
    fn draws_a_disc_and_white_digits_top_right_only() {
        let (w, h) = (64u32, 64u32);
        let mut img = vec![0u8; (w * h * 4) as usize];
        draw(&mut img, w, h, 7);
        // Top-left untouched, the disc edge red, some white inside it.
        assert_eq!(px(&img, w, 2, 2), [0, 0, 0, 0]);
        assert_eq!(px(&img, w, 63 - 19 + 18, 20), RED);
        let white = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).filter(|&(x, y)| px(&img, w, x, y) == WHITE).count();
        assert!(white > 10, "the digit is drawn ({white} white pixels)");
        assert!((0..h).all(|y| px(&img, w, 5, y) == [0, 0, 0, 0]), "the left side stays the icon's");
    }

    #[test]
    fn zero_draws_nothing_and_big_counts_say_nine_plus() {
        let mut img = vec![0u8; 64 * 64 * 4];
        draw(&mut img, 64, 64, 0);
        assert!(img.iter().all(|b| *b == 0));
        assert_eq!(label(12), "9+");
        assert_eq!(label(3), "3");
        let mut a = vec![0u8; 64 * 64 * 4];
        let mut b = vec![0u8; 64 * 64 * 4];
        draw(&mut a, 64, 64, 3);
        draw(&mut b, 64, 64, 12);
        assert_ne!(a, b);
    }
}
