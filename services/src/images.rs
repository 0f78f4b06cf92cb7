//! Images people upload (station photos, claim documents): recognised by their content,
//! decoded within limits, and encoded again upright with nothing but the pixels — no
//! metadata of any kind survives (EXIF, XMP, IPTC, PNG text and eXIf chunks, WebP EXIF:
//! where, when and with what a photo was taken).

use image::ImageFormat;

/// Largest side accepted, in pixels (a phone's camera is about 4000 × 3000).
pub const MAX_SIDE: u32 = 8_192;
/// Memory a decode may take (a 8192 × 8192 RGBA image is 256 MiB): a small file that
/// claims huge dimensions (a decompression bomb) is refused before it is decoded.
const MAX_DECODE_BYTES: u64 = 300 * 1024 * 1024;

/// Why an image was refused.
#[derive(Debug)]
pub enum Refused {
    /// Not one of the accepted formats (by content), or not decodable.
    NotAnImage,
    /// Larger than [`MAX_SIDE`] a side, or too large to decode.
    TooLarge,
    /// Encoding failed (a bug).
    Failed(image::ImageError),
}

/// The format of `bytes` by their content, if it is one of `allowed`.
pub fn format_of(bytes: &[u8], allowed: &[ImageFormat]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| allowed.contains(f))
}

pub fn content_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        _ => "image/jpeg",
    }
}

/// The image decoded and encoded again in its own format, upright (a phone's EXIF
/// orientation applied), with nothing but the pixels.
pub fn reencode(bytes: &[u8], allowed: &[ImageFormat]) -> Result<(&'static str, Vec<u8>), Refused> {
    use image::ImageDecoder;
    let format = format_of(bytes, allowed).ok_or(Refused::NotAnImage)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Refused::TooLarge,
        _ => Refused::NotAnImage,
    };
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().ok();
    let mut decoded = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    if let Some(orientation) = orientation {
        decoded.apply_orientation(orientation);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let written = match format {
        ImageFormat::Jpeg => {
            let rgb = image::DynamicImage::ImageRgb8(decoded.to_rgb8());
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 85,
            ))
        }
        ImageFormat::Png => {
            decoded.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        }
        _ => {
            // WebP is written lossless (what the encoder offers), as RGB or RGBA.
            let pixels = if decoded.color().has_alpha() {
                image::DynamicImage::ImageRgba8(decoded.to_rgba8())
            } else {
                image::DynamicImage::ImageRgb8(decoded.to_rgb8())
            };
            pixels.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        }
    };
    written.map_err(Refused::Failed)?;
    Ok((content_type(format), out.into_inner()))
}
