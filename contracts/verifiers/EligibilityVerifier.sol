// SPDX-License-Identifier: GPL-3.0
/*
    Copyright 2021 0KIMS association.

    This file is generated with [snarkJS](https://github.com/iden3/snarkjs).

    snarkJS is a free software: you can redistribute it and/or modify it
    under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    snarkJS is distributed in the hope that it will be useful, but WITHOUT
    ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
    or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public
    License for more details.

    You should have received a copy of the GNU General Public License
    along with snarkJS. If not, see <https://www.gnu.org/licenses/>.
*/

pragma solidity ^0.8.28;

contract EligibilityVerifier {
    // Scalar field size
    uint256 constant r    = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // Base field size
    uint256 constant q   = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    // Verification Key data
    uint256 constant alphax  = 9646929613819025411012836419930708425603833040765017559019666942595824267745;
    uint256 constant alphay  = 1992809940469885317168916634503990110005998992107519956248310260589133410019;
    uint256 constant betax1  = 2687176639498586804761922533161272591823286108481471328003919367895085182752;
    uint256 constant betax2  = 2114420525123975065559468471878801882293339677042743106323375597180315359834;
    uint256 constant betay1  = 13028284568420364936282071556891426236278264346264160638341376992922921170431;
    uint256 constant betay2  = 9528658883031288757776132990500766121836061575466948058919355771697312033229;
    uint256 constant gammax1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 constant gammax2 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 constant gammay1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 constant gammay2 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 constant deltax1 = 8603097596683344070247897091617928493858495413652404825925447941495070941493;
    uint256 constant deltax2 = 3517169990709660303890492788224228870502001734105874993742656931586741760661;
    uint256 constant deltay1 = 19278454425108606867005064222585236756530568022779924188481100233247970128859;
    uint256 constant deltay2 = 14141482980874085974681311973137976647480260870179278384661427552853826305595;

    
    uint256 constant IC0x = 18347386268300621653467314259540392985130851515596322194078972941422781934101;
    uint256 constant IC0y = 6271913261635875629649670795864605694764299989423944407549492014193911967306;
    
    uint256 constant IC1x = 3902044084659733580388333843319880156318132028124165520049125606829251268186;
    uint256 constant IC1y = 16236508322081466879918279003684712848396418795963215586141015604730260901612;
    
    uint256 constant IC2x = 2106575914862822781199678998934151434930652334472179263056647847205863871682;
    uint256 constant IC2y = 17552510382229521576688073302125498066719901969704820208546529145166708856845;
    
    uint256 constant IC3x = 8417897805434445715179226389865845735955804092196186645027600752934935544088;
    uint256 constant IC3y = 17138733879399278327209977407879113902344083993914995161862280133505968431255;
    
    uint256 constant IC4x = 14262870141329184115171433124247320676993193235484124847071614977042045679829;
    uint256 constant IC4y = 10756017380895906471241058319630198545431323012138024969209989430614649174313;
    
    uint256 constant IC5x = 14148657467484661886943007747013902501831751298986638666434841957267419822232;
    uint256 constant IC5y = 1648505839091702568818018359073999303197962041855189762518159168946417430496;
    
    uint256 constant IC6x = 6400981354589623047385258368300410437033797588098829302604386256902524117981;
    uint256 constant IC6y = 9265719345537465051232838357837082207131184854885263846117012412646643446711;
    
    uint256 constant IC7x = 9618797414609384161967033895424545225574901914786189700205540593032751231003;
    uint256 constant IC7y = 13658687894400072301494097500868326949493164335160191076487708709750892558484;
    
    uint256 constant IC8x = 16324042113790805758663845116798040383906350525160536385787024697457553499385;
    uint256 constant IC8y = 12366456663481937857230727092890974837343674333976074411652887515832185021187;
    
    uint256 constant IC9x = 13667245358747733854228970730683447213777062621755636319665689840137449360256;
    uint256 constant IC9y = 6057239871325971996247270385053479515124212485640550471350718649295306737489;
    
    uint256 constant IC10x = 13257469825040123991796409120583899227667318199206087661664271290599648857357;
    uint256 constant IC10y = 16668681713572764364198488780223336761439823045547489556017632328019308679934;
    
    uint256 constant IC11x = 12961097279707409662156171768236861873630109953417191042115135720851439837419;
    uint256 constant IC11y = 5344730136235372274686201406850356696170943790044418484771521581526102084799;
    
    uint256 constant IC12x = 9863873118009498244517741386158885977492149992585483845401237047696566964007;
    uint256 constant IC12y = 11798790736815046761258350166349103131455841697365842685404878884253003309677;
    
    uint256 constant IC13x = 17709030500128603468430569816206369970974359877770019509152285849148174672709;
    uint256 constant IC13y = 18603332608122316219409521797590815173605217213485682939273106240527375182624;
    
    uint256 constant IC14x = 2261397607458954068870850186606146571682225025386379215341610905946341288694;
    uint256 constant IC14y = 11649921151273310181197188477326849947703101243934123347592725088879549061637;
    
 
    // Memory data
    uint16 constant pVk = 0;
    uint16 constant pPairing = 128;

    uint16 constant pLastMem = 896;

    function verifyProof(uint[2] calldata _pA, uint[2][2] calldata _pB, uint[2] calldata _pC, uint[14] calldata _pubSignals) public view returns (bool) {
        assembly {
            function checkField(v) {
                if iszero(lt(v, r)) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }
            
            // G1 function to multiply a G1 value(x,y) to value in an address
            function g1_mulAccC(pR, x, y, s) {
                let success
                let mIn := mload(0x40)
                mstore(mIn, x)
                mstore(add(mIn, 32), y)
                mstore(add(mIn, 64), s)

                success := staticcall(sub(gas(), 2000), 7, mIn, 96, mIn, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }

                mstore(add(mIn, 64), mload(pR))
                mstore(add(mIn, 96), mload(add(pR, 32)))

                success := staticcall(sub(gas(), 2000), 6, mIn, 128, pR, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }

            function checkPairing(pA, pB, pC, pubSignals, pMem) -> isOk {
                let _pPairing := add(pMem, pPairing)
                let _pVk := add(pMem, pVk)

                mstore(_pVk, IC0x)
                mstore(add(_pVk, 32), IC0y)

                // Compute the linear combination vk_x
                
                g1_mulAccC(_pVk, IC1x, IC1y, calldataload(add(pubSignals, 0)))
                
                g1_mulAccC(_pVk, IC2x, IC2y, calldataload(add(pubSignals, 32)))
                
                g1_mulAccC(_pVk, IC3x, IC3y, calldataload(add(pubSignals, 64)))
                
                g1_mulAccC(_pVk, IC4x, IC4y, calldataload(add(pubSignals, 96)))
                
                g1_mulAccC(_pVk, IC5x, IC5y, calldataload(add(pubSignals, 128)))
                
                g1_mulAccC(_pVk, IC6x, IC6y, calldataload(add(pubSignals, 160)))
                
                g1_mulAccC(_pVk, IC7x, IC7y, calldataload(add(pubSignals, 192)))
                
                g1_mulAccC(_pVk, IC8x, IC8y, calldataload(add(pubSignals, 224)))
                
                g1_mulAccC(_pVk, IC9x, IC9y, calldataload(add(pubSignals, 256)))
                
                g1_mulAccC(_pVk, IC10x, IC10y, calldataload(add(pubSignals, 288)))
                
                g1_mulAccC(_pVk, IC11x, IC11y, calldataload(add(pubSignals, 320)))
                
                g1_mulAccC(_pVk, IC12x, IC12y, calldataload(add(pubSignals, 352)))
                
                g1_mulAccC(_pVk, IC13x, IC13y, calldataload(add(pubSignals, 384)))
                
                g1_mulAccC(_pVk, IC14x, IC14y, calldataload(add(pubSignals, 416)))
                

                // -A
                mstore(_pPairing, calldataload(pA))
                mstore(add(_pPairing, 32), mod(sub(q, calldataload(add(pA, 32))), q))

                // B
                mstore(add(_pPairing, 64), calldataload(pB))
                mstore(add(_pPairing, 96), calldataload(add(pB, 32)))
                mstore(add(_pPairing, 128), calldataload(add(pB, 64)))
                mstore(add(_pPairing, 160), calldataload(add(pB, 96)))

                // alpha1
                mstore(add(_pPairing, 192), alphax)
                mstore(add(_pPairing, 224), alphay)

                // beta2
                mstore(add(_pPairing, 256), betax1)
                mstore(add(_pPairing, 288), betax2)
                mstore(add(_pPairing, 320), betay1)
                mstore(add(_pPairing, 352), betay2)

                // vk_x
                mstore(add(_pPairing, 384), mload(add(pMem, pVk)))
                mstore(add(_pPairing, 416), mload(add(pMem, add(pVk, 32))))


                // gamma2
                mstore(add(_pPairing, 448), gammax1)
                mstore(add(_pPairing, 480), gammax2)
                mstore(add(_pPairing, 512), gammay1)
                mstore(add(_pPairing, 544), gammay2)

                // C
                mstore(add(_pPairing, 576), calldataload(pC))
                mstore(add(_pPairing, 608), calldataload(add(pC, 32)))

                // delta2
                mstore(add(_pPairing, 640), deltax1)
                mstore(add(_pPairing, 672), deltax2)
                mstore(add(_pPairing, 704), deltay1)
                mstore(add(_pPairing, 736), deltay2)


                let success := staticcall(sub(gas(), 2000), 8, _pPairing, 768, _pPairing, 0x20)

                isOk := and(success, mload(_pPairing))
            }

            let pMem := mload(0x40)
            mstore(0x40, add(pMem, pLastMem))

            // Validate that all evaluations ∈ F
            
            checkField(calldataload(add(_pubSignals, 0)))
            
            checkField(calldataload(add(_pubSignals, 32)))
            
            checkField(calldataload(add(_pubSignals, 64)))
            
            checkField(calldataload(add(_pubSignals, 96)))
            
            checkField(calldataload(add(_pubSignals, 128)))
            
            checkField(calldataload(add(_pubSignals, 160)))
            
            checkField(calldataload(add(_pubSignals, 192)))
            
            checkField(calldataload(add(_pubSignals, 224)))
            
            checkField(calldataload(add(_pubSignals, 256)))
            
            checkField(calldataload(add(_pubSignals, 288)))
            
            checkField(calldataload(add(_pubSignals, 320)))
            
            checkField(calldataload(add(_pubSignals, 352)))
            
            checkField(calldataload(add(_pubSignals, 384)))
            
            checkField(calldataload(add(_pubSignals, 416)))
            

            // Validate all evaluations
            let isValid := checkPairing(_pA, _pB, _pC, _pubSignals, pMem)

            mstore(0, isValid)
             return(0, 0x20)
         }
     }
 }
