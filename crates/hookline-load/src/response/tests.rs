use super::*;

/// Parses `bytes` in one go.
fn whole(bytes: &[u8]) -> Result<Parse, ParseError> {
    ResponseParser::default().parse(bytes)
}

/// Feeds `bytes` one byte at a time, as the slowest network would; the response and the read it
/// completed on.
fn byte_by_byte(bytes: &[u8]) -> (Response, usize) {
    let mut parser = ResponseParser::default();
    for end in 1..=bytes.len() {
        if let Parse::Complete(response) = parser.parse(&bytes[..end]).unwrap() {
            return (response, end);
        }
    }
    panic!("never complete");
}

const NGINX_200: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 21 Nov 2026 13:00:00 GMT\r\n\
    Content-Type: application/octet-stream\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";

#[test]
fn a_response_with_content_length_ends_after_its_body() {
    let bytes = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\noops!";
    let expected = Response {
        status: 500,
        close: false,
        len: bytes.len(),
    };
    assert_eq!(whole(bytes), Ok(Parse::Complete(expected)));
    assert_eq!(whole(&bytes[..bytes.len() - 1]), Ok(Parse::Partial));
}

#[test]
fn a_response_split_into_single_bytes_completes_on_its_last_byte() {
    let (response, at) = byte_by_byte(NGINX_200);
    assert_eq!((response.status, response.close), (200, false));
    assert_eq!((response.len, at), (NGINX_200.len(), NGINX_200.len()));
}

#[test]
fn bytes_after_a_response_are_not_part_of_it() {
    let mut bytes = NGINX_200.to_vec();
    bytes.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    let Ok(Parse::Complete(response)) = whole(&bytes) else {
        panic!("complete")
    };
    assert_eq!(response.len, NGINX_200.len());
}

#[test]
fn a_chunked_body_ends_after_the_last_chunk_and_its_trailers() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\nX-Trailer: yes\r\n\r\n";
    let (response, at) = byte_by_byte(bytes);
    assert_eq!((response.status, response.close), (200, false));
    assert_eq!((response.len, at), (bytes.len(), bytes.len()));
}

#[test]
fn a_chunked_body_without_trailers_ends_at_the_empty_line() {
    let bytes = b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    let (response, at) = byte_by_byte(bytes);
    assert_eq!((response.len, at), (bytes.len(), bytes.len()));
    assert_eq!(whole(&bytes[..bytes.len() - 1]), Ok(Parse::Partial));
}

#[test]
fn a_chunk_not_followed_by_crlf_is_malformed() {
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n";
    assert_eq!(whole(bytes), Err(ParseError::Chunk));
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_eq!(whole(bytes), Err(ParseError::Chunk));
}

#[test]
fn connection_close_asks_for_a_new_connection() {
    let bytes =
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n";
    let Ok(Parse::Complete(response)) = whole(bytes) else {
        panic!("complete")
    };
    assert_eq!((response.status, response.close), (503, true));
}

#[test]
fn http_1_0_closes_unless_it_says_keep_alive() {
    let closes = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    let stays = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
    assert!(matches!(
        whole(closes),
        Ok(Parse::Complete(Response { close: true, .. }))
    ));
    assert!(matches!(
        whole(stays),
        Ok(Parse::Complete(Response { close: false, .. }))
    ));
}

#[test]
fn a_body_without_length_runs_until_the_server_closes() {
    let bytes = b"HTTP/1.1 200 OK\r\n\r\nall of it";
    let mut parser = ResponseParser::default();
    assert_eq!(parser.parse(bytes), Ok(Parse::Partial));
    let response = parser.finish_at_eof(bytes).unwrap();
    assert_eq!(
        (response.status, response.close, response.len),
        (200, true, bytes.len())
    );
}

#[test]
fn a_close_before_the_end_of_a_framed_body_is_truncation() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    let mut parser = ResponseParser::default();
    assert_eq!(parser.parse(bytes), Ok(Parse::Partial));
    assert_eq!(parser.finish_at_eof(bytes), Err(ParseError::Truncated));
    assert_eq!(
        ResponseParser::default().finish_at_eof(b"HTTP/1.1 2"),
        Err(ParseError::Truncated)
    );
}

#[test]
fn an_interim_100_continue_is_skipped() {
    let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    let (response, at) = byte_by_byte(bytes);
    assert_eq!(
        (response.status, response.len, at),
        (201, bytes.len(), bytes.len())
    );
}

#[test]
fn a_204_has_no_body_whatever_its_headers_say() {
    let bytes = b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n";
    assert!(matches!(
        whole(bytes),
        Ok(Parse::Complete(Response { status: 204, .. }))
    ));
}

#[test]
fn malformed_heads_and_lengths_are_errors() {
    assert!(matches!(
        whole(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        Err(ParseError::Head(_))
    ));
    assert!(matches!(whole(b"<html>\r\n\r\n"), Err(ParseError::Head(_))));
    let bad_length = b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
    assert_eq!(whole(bad_length), Err(ParseError::ContentLength));
    let two_lengths = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(whole(two_lengths), Err(ParseError::ContentLength));
    let upgrade = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    assert_eq!(whole(upgrade), Err(ParseError::Upgrade));
}

#[test]
fn reset_readies_the_parser_for_the_next_response() {
    let mut parser = ResponseParser::default();
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert!(matches!(parser.parse(chunked), Ok(Parse::Complete(_))));
    parser.reset();
    assert_eq!(
        parser.parse(NGINX_200),
        Ok(Parse::Complete(Response {
            status: 200,
            close: false,
            len: NGINX_200.len()
        }))
    );
}
