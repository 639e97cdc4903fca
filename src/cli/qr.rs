//! The QR code of the sign-in URL, for a terminal. Drawn with half blocks (two modules per
//! character cell) in explicit colours: black modules on a white quiet zone, set with SGR
//! codes rather than left to the terminal's own foreground and background. Plain characters
//! come out inverted on the usual light-on-dark terminal, where scanners cannot read them.

use qrcode::{Color, QrCode};

/// Black foreground on a white background, and back to the terminal's defaults.
const COLOURS: &str = "\x1b[30;47m";
const RESET: &str = "\x1b[0m";
/// Modules of white around the code, as the QR specification asks.
const QUIET_ZONE: usize = 2;

/// `text` as terminal art, or `None` when it is too long for a QR code.
pub fn render(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let dark = |x: usize, y: usize| -> bool {
        let (x, y) = (
            x as isize - QUIET_ZONE as isize,
            y as isize - QUIET_ZONE as isize,
        );
        if x < 0 || y < 0 || x >= width as isize || y >= width as isize {
            return false;
        }
        colors[y as usize * width + x as usize] == Color::Dark
    };
    let side = width + 2 * QUIET_ZONE;
    let mut out = String::new();
    for row in (0..side).step_by(2) {
        out.push_str(COLOURS);
        for x in 0..side {
            out.push(match (dark(x, row), dark(x, row + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(RESET);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a terminal shows for `art`, as a greyscale image (one pixel per module): half
    /// blocks take the foreground colour in their half, spaces the background; SGR 30/47 set
    /// black/white, 0 restores the terminal's defaults (`light_on_dark` or the reverse).
    fn screen(art: &str, light_on_dark: bool) -> (usize, usize, Vec<u8>) {
        let (default_fg, default_bg) = if light_on_dark { (230, 20) } else { (20, 230) };
        let mut rows: Vec<Vec<u8>> = Vec::new();
        for line in art.lines() {
            let (mut fg, mut bg) = (default_fg, default_bg);
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    let mut code = String::new();
                    for c in chars.by_ref() {
                        if c == 'm' {
                            break;
                        }
                        code.push(c);
                    }
                    for part in code.trim_start_matches('[').split(';') {
                        match part {
                            "0" => (fg, bg) = (default_fg, default_bg),
                            "30" => fg = 0,
                            "47" => bg = 255,
                            _ => {}
                        }
                    }
                    continue;
                }
                let (t, b) = match c {
                    '█' => (fg, fg),
                    '▀' => (fg, bg),
                    '▄' => (bg, fg),
                    _ => (bg, bg),
                };
                top.push(t);
                bottom.push(b);
            }
            rows.push(top);
            rows.push(bottom);
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let height = rows.len();
        let pixels = rows
            .into_iter()
            .flat_map(|mut r| {
                r.resize(width, default_bg);
                r
            })
            .collect();
        (width, height, pixels)
    }

    /// Decode what the terminal shows, scaled up as a phone camera would see it.
    fn scan(art: &str, light_on_dark: bool) -> Option<String> {
        let (w, h, pixels) = screen(art, light_on_dark);
        const SCALE: usize = 4;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(w * SCALE, h * SCALE, |x, y| {
                pixels[(y / SCALE) * w + x / SCALE]
            });
        let grids = image.detect_grids();
        let (_, text) = grids.first()?.decode().ok()?;
        Some(text)
    }

    const URL: &str = "https://idp.example.com/device?user_code=BCDF-GHJK";

    #[test]
    fn the_code_scans_on_dark_and_on_light_terminals() {
        let art = render(URL).unwrap();
        assert_eq!(scan(&art, true).as_deref(), Some(URL), "light on dark");
        assert_eq!(scan(&art, false).as_deref(), Some(URL), "dark on light");
    }

    #[test]
    fn plain_half_blocks_do_not_scan_on_a_dark_terminal() {
        // The rendering before this module: the terminal's own colours. The scanner must be
        // able to tell, or the test above proves nothing.
        let plain = QrCode::new(URL.as_bytes())
            .unwrap()
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        assert_eq!(
            scan(&plain, false).as_deref(),
            Some(URL),
            "plain, dark on light"
        );
        assert_eq!(scan(&plain, true), None, "plain, light on dark");
    }
}
