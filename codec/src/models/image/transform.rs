//! From a pixel's channels to the planes the model codes, and back
//! (spec/MODELS.md §7.2).
//!
//! Alpha, when present, is plane 0: it is coded first so that it can be a
//! context for the colour. The colour planes follow. For RGB the stripe
//! chooses one of the reversible transforms of [`Transform`]; every transform
//! maps integers to integers exactly and is inverted exactly.

use nzip_format::ColorType;

/// A reversible colour transform of RGB samples (spec/MODELS.md §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// Planes G, R, B: the samples themselves (green first, as the others are
    /// predicted from it).
    None,
    /// Planes G, R − G, B − G ("subtract green").
    SubtractGreen,
    /// YCoCg-R (lifting): Co = R − B, t = B + (Co >> 1), Cg = G − t,
    /// Y = t + (Cg >> 1); planes Y, Co, Cg.
    YCoCg,
}

impl Transform {
    /// All transforms, by code.
    pub const ALL: [Transform; 3] = [Transform::None, Transform::SubtractGreen, Transform::YCoCg];

    /// The transform's code in the stripe (2 bits).
    pub fn code(self) -> u32 {
        match self {
            Transform::None => 0,
            Transform::SubtractGreen => 1,
            Transform::YCoCg => 2,
        }
    }

    /// The transform with `code`; code 3 is read as [`Transform::None`] (only
    /// a damaged stream has it, and the chunk CRC then fails).
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Transform::SubtractGreen,
            2 => Transform::YCoCg,
            _ => Transform::None,
        }
    }
}

/// Where a stripe's channels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Number of planes (= channels).
    pub planes: usize,
    /// Channels per pixel in the samples.
    pub channels: usize,
    /// True when plane 0 is alpha.
    pub alpha: bool,
    /// Index of the first colour plane (1 with alpha, else 0).
    pub first_color: usize,
    /// True for RGB(A): three colour planes under a transform.
    pub rgb: bool,
    /// The colour transform (always `None` without RGB).
    pub transform: Transform,
    /// Inclusive range of each plane's values.
    pub ranges: [(i32, i32); 4],
}

impl Layout {
    /// The layout of `color` samples up to `maxval` under `transform`
    /// (ignored unless the colour type is RGB or RGBA).
    pub fn new(color: ColorType, maxval: u16, transform: Transform) -> Self {
        let m = i32::from(maxval);
        let (channels, alpha, rgb) = match color {
            ColorType::GrayAlpha => (2, true, false),
            ColorType::Rgb => (3, false, true),
            ColorType::Rgba => (4, true, true),
            _ => (1, false, false),
        };
        let transform = if rgb { transform } else { Transform::None };
        let first_color = usize::from(alpha);
        let mut ranges = [(0, m); 4];
        if rgb {
            match transform {
                Transform::None => {}
                Transform::SubtractGreen | Transform::YCoCg => {
                    ranges[first_color + 1] = (-m, m);
                    ranges[first_color + 2] = (-m, m);
                }
            }
        }
        Layout { planes: channels, channels, alpha, first_color, rgb, transform, ranges }
    }

    /// The plane values of one pixel whose channel values (in the sample
    /// order of the colour type) are `ch`.
    #[inline]
    pub fn forward(&self, ch: &[i32; 4]) -> [i32; 4] {
        let mut v = [0i32; 4];
        let f = self.first_color;
        if self.alpha {
            v[0] = ch[self.channels - 1];
        }
        if self.rgb {
            let (r, g, b) = (ch[0], ch[1], ch[2]);
            let (p0, p1, p2) = match self.transform {
                Transform::None => (g, r, b),
                Transform::SubtractGreen => (g, r - g, b - g),
                Transform::YCoCg => {
                    let co = r - b;
                    let t = b + (co >> 1);
                    let cg = g - t;
                    (t + (cg >> 1), co, cg)
                }
            };
            v[f] = p0;
            v[f + 1] = p1;
            v[f + 2] = p2;
        } else {
            v[f] = ch[0];
        }
        v
    }

    /// The channel values of one pixel from its plane values, each clamped to
    /// `0..=maxval` (which changes nothing for planes that came from
    /// [`Layout::forward`]).
    #[inline]
    pub fn inverse(&self, v: &[i32; 4], maxval: i32) -> [i32; 4] {
        let mut ch = [0i32; 4];
        let f = self.first_color;
        if self.alpha {
            ch[self.channels - 1] = v[0];
        }
        if self.rgb {
            let (p0, p1, p2) = (v[f], v[f + 1], v[f + 2]);
            let (r, g, b) = match self.transform {
                Transform::None => (p1, p0, p2),
                Transform::SubtractGreen => (p1 + p0, p0, p2 + p0),
                Transform::YCoCg => {
                    let (y, co, cg) = (p0, p1, p2);
                    let t = y - (cg >> 1);
                    let g = cg + t;
                    let b = t - (co >> 1);
                    (b + co, g, b)
                }
            };
            ch[0] = r;
            ch[1] = g;
            ch[2] = b;
        } else {
            ch[0] = v[f];
        }
        for c in ch.iter_mut().take(self.channels) {
            *c = (*c).clamp(0, maxval);
        }
        ch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_are_exact_inverses() {
        for maxval in [1u16, 3, 255, 1000, 65535] {
            let m = i32::from(maxval);
            let vals = [0, 1, m / 3, m / 2, m - 1, m];
            for t in Transform::ALL {
                let l = Layout::new(ColorType::Rgba, maxval, t);
                for &r in &vals {
                    for &g in &vals {
                        for &b in &vals {
                            let ch = [r, g, b, m / 2];
                            let v = l.forward(&ch);
                            for (p, &(lo, hi)) in v.iter().zip(&l.ranges) {
                                assert!((lo..=hi).contains(p), "{t:?} {ch:?} -> {v:?}");
                            }
                            assert_eq!(l.inverse(&v, m), ch, "{t:?}");
                        }
                    }
                }
            }
        }
    }
}
